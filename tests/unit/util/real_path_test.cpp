// Path confinement end to end on a real filesystem: core::resolve_task with util::real_path.
#include "util/real_path.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/task_catalog.hpp"
#include "temp_dir.hpp"

namespace vramq::util {
namespace {
namespace fs = std::filesystem;
using Given = std::vector<std::pair<std::string, core::ParamInput>>;

class Confinement : public ::testing::Test {
 protected:
  void SetUp() override {
    inputs = dir.path() / "inputs";
    fs::create_directories(inputs / "sub");
    fs::create_directories(dir.path() / "secret");
    std::ofstream(inputs / "cat.png") << "png";
    std::ofstream(dir.path() / "secret" / "passwd") << "root";
    fs::create_directory_symlink(dir.path() / "secret", inputs / "etc-link");
    fs::create_directory_symlink(inputs / "sub", inputs / "sub-link");
    fs::create_symlink(dir.path() / "secret" / "passwd", inputs / "sub" / "file-link");
    std::string toml =
        "[tasks.t]\nargv = [\"x\", \"{image}\"]\n[tasks.t.params]\n"
        "image = { type = \"path\", under = \"" +
        inputs.string() + "\" }\n[tasks.t.vram]\nbase_mb = 1\n";
    auto c = core::TaskCatalog::parse(toml, "/bin");
    ASSERT_TRUE(c) << c.error().message;
    catalog = std::move(*c);
  }
  boost::system::result<core::ResolvedTask, core::ParamError> resolve(const std::string& image) {
    return core::resolve_task(*catalog.find("t"), Given{{"image", image}}, "/d", 1, real_path);
  }
  testing::TempDir dir;
  fs::path inputs;
  core::TaskCatalog catalog;
};

TEST_F(Confinement, SymlinkedDirectoryOutsideIsRefused) {
  auto r = resolve("etc-link/passwd");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().field, "params.image");
  EXPECT_NE(r.error().message.find("leads outside through a symlink"), std::string::npos);
}

TEST_F(Confinement, SymlinkedFileOutsideIsRefused) {
  EXPECT_FALSE(resolve("sub/file-link"));
  EXPECT_FALSE(resolve("sub-link/file-link"));
  EXPECT_FALSE(resolve(inputs.string() + "/etc-link/passwd"));  // absolute, same thing
}

TEST_F(Confinement, DotDotAndAbsoluteOutsideAreRefused) {
  EXPECT_FALSE(resolve("../secret/passwd"));
  EXPECT_FALSE(resolve("sub/../../secret/passwd"));
  EXPECT_FALSE(resolve((dir.path() / "secret" / "passwd").string()));
  EXPECT_FALSE(resolve("."));
}

TEST_F(Confinement, ThePathHandedToTheJobIsTheResolvedOne) {
  auto r = resolve("sub-link/../cat.png");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->argv[1], (inputs / "cat.png").string());
  auto via_link = resolve("sub-link/new-output.obj");  // not there yet: allowed, resolved prefix
  ASSERT_TRUE(via_link) << via_link.error().message;
  EXPECT_EQ(via_link->argv[1], (inputs / "sub" / "new-output.obj").string());
}

TEST_F(Confinement, AnUnderDirectoryThatIsItselfASymlinkStillConfines) {
  fs::create_directory_symlink(inputs, dir.path() / "inputs-alias");
  std::string toml =
      "[tasks.t]\nargv = [\"x\", \"{image}\"]\n[tasks.t.params]\n"
      "image = { type = \"path\", under = \"" +
      (dir.path() / "inputs-alias").string() + "\" }\n[tasks.t.vram]\nbase_mb = 1\n";
  auto c = core::TaskCatalog::parse(toml, "/bin");
  ASSERT_TRUE(c);
  auto ok = core::resolve_task(*c->find("t"), Given{{"image", std::string("cat.png")}}, "/d", 1,
                               real_path);
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->argv[1], (inputs / "cat.png").string());
  EXPECT_FALSE(core::resolve_task(*c->find("t"), Given{{"image", std::string("etc-link/passwd")}},
                                  "/d", 1, real_path));
}

}  // namespace
}  // namespace vramq::util
