#include "util/confined_files.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "temp_dir.hpp"

namespace vramq::util {
namespace {
namespace fs = std::filesystem;

TEST(ConfinedFiles, PlainRelativePaths) {
  for (const char* ok : {"a", "a/b.txt", "mesh/out.obj", ".hidden"})
    EXPECT_TRUE(plain_relative_path(ok)) << ok;
  for (const char* bad : {"", "/etc/passwd", "..", "../x", "a/../b", "a//b", "./a", "a/", "a/."})
    EXPECT_FALSE(plain_relative_path(bad)) << bad;
  EXPECT_FALSE(plain_relative_path(std::string_view("a\0b", 3)));
}

TEST(ConfinedFiles, OpensOnlyRegularFilesBeneathWithoutSymlinks) {
  testing::TempDir dir;
  fs::create_directories(dir.path() / "job" / "sub");
  std::ofstream(dir.path() / "job" / "sub" / "f.txt") << "hello";
  std::ofstream(dir.path() / "outside.txt") << "secret";
  fs::create_symlink(dir.path() / "outside.txt", dir.path() / "job" / "link");
  fs::create_directory_symlink(dir.path() / "job" / "sub", dir.path() / "job" / "sub-link");
  std::string job = (dir.path() / "job").string();
  auto f = open_beneath(job, "sub/f.txt");
  ASSERT_TRUE(f) << f.error().message;
  EXPECT_EQ((*f)->size(), 5);
  EXPECT_EQ((*f)->read(1, 3), "ell");
  EXPECT_EQ((*f)->read(5, 10), "");
  EXPECT_EQ(open_beneath(job, "link").error().code, OpenErrc::not_a_file);
  EXPECT_EQ(open_beneath(job, "sub-link/f.txt").error().code, OpenErrc::not_a_file);
  EXPECT_EQ(open_beneath(job, "sub").error().code, OpenErrc::not_a_file);
  EXPECT_EQ(open_beneath(job, "nope").error().code, OpenErrc::not_found);
  EXPECT_EQ(open_beneath(job, "../outside.txt").error().code, OpenErrc::bad_path);
}

TEST(ConfinedFiles, ListingDoesNotFollowSymlinks) {
  testing::TempDir dir;
  fs::create_directories(dir.path() / "job" / "sub");
  std::ofstream(dir.path() / "job" / "sub" / "f.txt") << "hello";
  fs::create_directory_symlink("/etc", dir.path() / "job" / "etc");
  auto l = list_files((dir.path() / "job").string(), 100);
  ASSERT_TRUE(l);
  ASSERT_EQ(l->entries.size(), 3u);
  EXPECT_EQ(l->entries[0].path, "etc");
  EXPECT_EQ(l->entries[0].type, "symlink");
  EXPECT_EQ(l->entries[1].path, "sub");
  EXPECT_EQ(l->entries[2].path, "sub/f.txt");
  EXPECT_EQ(l->entries[2].size, 5);
  auto capped = list_files((dir.path() / "job").string(), 2);
  EXPECT_TRUE(capped->truncated);
  EXPECT_TRUE(list_files((dir.path() / "none").string(), 10)->entries.empty());
}

TEST(ConfinedFiles, RemovingATreeRemovesLinksNeverWhatTheyPointTo) {
  testing::TempDir dir;
  fs::path job = dir.path() / "job";
  fs::create_directories(job / "a" / "b" / "c");
  std::ofstream(job / "a" / "b" / "c" / "f") << "x";
  fs::create_directories(dir.path() / "keep" / "inside");
  std::ofstream(dir.path() / "keep" / "inside" / "precious") << "keep me";
  fs::create_directory_symlink(dir.path() / "keep", job / "dir-link");
  fs::create_symlink(dir.path() / "keep" / "inside" / "precious", job / "a" / "file-link");
  ::mkfifo((job / "a" / "fifo").c_str(), 0600);
  EXPECT_FALSE(remove_tree(job.string()));
  EXPECT_FALSE(fs::exists(job));
  EXPECT_TRUE(fs::exists(dir.path() / "keep" / "inside" / "precious"));
  EXPECT_FALSE(remove_tree(job.string())) << "gone already: nothing to do";
  // The directory itself a link: the link goes, not its target.
  fs::create_directory_symlink(dir.path() / "keep", job);
  EXPECT_FALSE(remove_tree(job.string()));
  EXPECT_FALSE(fs::is_symlink(job));
  EXPECT_TRUE(fs::exists(dir.path() / "keep" / "inside" / "precious"));
}

TEST(ConfinedFiles, ATreeDeeperThanTheBoundIsRemovedDownToItAndSaysSo) {
  testing::TempDir dir;
  fs::path deep = dir.path() / "job";
  fs::path bottom = deep;
  for (int i = 0; i < kMaxRemoveDepth + 5; ++i)
    bottom /= "d";
  fs::create_directories(bottom);
  std::error_code ec = remove_tree(deep.string());
  EXPECT_EQ(ec.value(), ELOOP);
  EXPECT_TRUE(fs::exists(deep / "d")) << "what is past the bound stays";
}

}  // namespace
}  // namespace vramq::util
