#include "exec/program_path.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "temp_dir.hpp"

namespace vramq::exec {
namespace {
namespace fs = std::filesystem;

void make_file(const fs::path& p, bool executable) {
  std::ofstream(p) << "#!/bin/sh\n";
  ::chmod(p.c_str(), executable ? 0755 : 0644);
}

TEST(ProgramPath, BareNamesAreFoundOnTheJobsPathInOrder) {
  testing::TempDir dir;
  fs::create_directories(dir.path() / "a");
  fs::create_directories(dir.path() / "b");
  fs::create_directories(dir.path() / "c" / "tool");  // a directory is not a program
  make_file(dir.path() / "a" / "tool", false);        // not executable: skipped
  make_file(dir.path() / "b" / "tool", true);
  std::string path = (dir.path() / "c").string() + ":" + (dir.path() / "a").string() + ":" +
                     (dir.path() / "b").string();
  EXPECT_EQ(find_program("tool", path, "/"), (dir.path() / "b" / "tool").string());
  EXPECT_EQ(find_program("nope", path, "/"), std::nullopt);
  EXPECT_EQ(find_program("tool", "", "/nonexistent"), std::nullopt);
}

TEST(ProgramPath, NamesWithASlashAreUsedAsTheyAre) {
  EXPECT_EQ(find_program("/bin/echo", "", ""), "/bin/echo");
  EXPECT_EQ(find_program("./run.py", "/usr/bin", "/srv"), "./run.py");
  EXPECT_EQ(find_program("", "/usr/bin", ""), std::nullopt);
}

TEST(ProgramPath, AnEmptyPathEntryIsTheWorkingDirectory) {
  testing::TempDir dir;
  make_file(dir.path() / "local", true);
  EXPECT_EQ(find_program("local", "/nonexistent::", dir.path().string()),
            (dir.path() / "local").string());
}

TEST(ProgramPath, PathOfAnEnvironment) {
  std::vector<std::string> env = {"HOME=/root", "PATH=/usr/bin:/bin", "PATHX=no"};
  EXPECT_EQ(path_of(env), "/usr/bin:/bin");
  EXPECT_EQ(path_of(std::vector<std::string>{"HOME=/"}), "");
}

}  // namespace
}  // namespace vramq::exec
