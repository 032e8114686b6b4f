#include "util/untrusted_files.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "temp_dir.hpp"

namespace vramq::util {
namespace {
namespace fs = std::filesystem;

TEST(UntrustedFiles, ReadsRangesAndTailsOfRegularFiles) {
  testing::TempDir dir;
  std::string path = (dir.path() / "log").string();
  std::ofstream(path) << std::string(100, 'a') << "0123456789";
  EXPECT_EQ(read_tail(path, 10), "0123456789");
  EXPECT_EQ(read_tail(path, 1000).size(), 110u);
  EXPECT_EQ(read_range(path, 100, 4), "0123");
  EXPECT_EQ(read_range(path, 108, 100), "89");
  EXPECT_EQ(read_range(path, 500, 10), "");
  EXPECT_EQ(read_range(path, -1, 10), "");
  EXPECT_EQ(read_tail((dir.path() / "nonexistent").string(), 10), "");
}

// What a hostile job does to its own logs: a link to a secret, a FIFO (whose open would block
// without O_NONBLOCK), a directory. None is read, and none of the reads waits.
TEST(UntrustedFiles, NeverFollowsALinkNorReadsAFifoOrADirectory) {
  testing::TempDir dir;
  std::ofstream(dir.path() / "secret") << "token";
  fs::create_symlink(dir.path() / "secret", dir.path() / "link");
  ASSERT_EQ(::mkfifo((dir.path() / "fifo").c_str(), 0600), 0);
  fs::create_directory(dir.path() / "dir");
  for (const char* name : {"link", "fifo", "dir"}) {
    std::string path = (dir.path() / name).string();
    EXPECT_EQ(read_tail(path, 100), "") << name;
    EXPECT_EQ(read_range(path, 0, 100), "") << name;
    EXPECT_FALSE(read_mb_file(path)) << name;
    auto opened = open_untrusted(path);
    ASSERT_FALSE(opened) << name;
    EXPECT_EQ(opened.error().code, OpenErrc::not_a_file) << name;
  }
  EXPECT_EQ(open_untrusted((dir.path() / "nope").string()).error().code, OpenErrc::not_found);
}

TEST(UntrustedFiles, ReadsAWholeNumberOfMiB) {
  testing::TempDir dir;
  auto write = [&](const std::string& text) {
    std::ofstream(dir.path() / "mb", std::ios::trunc) << text;
    return read_mb_file((dir.path() / "mb").string());
  };
  EXPECT_EQ(write("3000\n"), 3000);
  EXPECT_EQ(write("0"), 0);
  EXPECT_FALSE(write(""));
  EXPECT_FALSE(write("-5\n"));
  EXPECT_FALSE(write("12 MiB\n"));
  EXPECT_FALSE(read_mb_file(""));
}

}  // namespace
}  // namespace vramq::util
