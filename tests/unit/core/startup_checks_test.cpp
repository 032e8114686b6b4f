#include "core/startup_checks.hpp"

#include <gtest/gtest.h>

namespace vramq::core {
namespace {

TaskCatalog catalog(std::string_view toml) {
  auto c = TaskCatalog::parse(toml, "/bin");
  EXPECT_TRUE(c) << c.error().message;
  return c ? std::move(*c) : TaskCatalog{};
}

constexpr std::string_view kTasks = R"(
[tasks.small]
argv = ["x"]
[tasks.small.vram]
base_mb = 1000
[tasks.huge]
argv = ["x"]
[tasks.huge.vram]
base_mb = 30000
[tasks.scaled]
argv = ["x"]
[tasks.scaled.params]
n = { type = "int", min = 1, max = 100, default = 50 }
[tasks.scaled.vram]
base_mb = 0
per_unit_mb = 1000
unit = "n"
)";

bool mentions(const std::vector<std::string>& lines, std::string_view what) {
  for (const std::string& l : lines) {
    if (l.find(what) != std::string::npos) return true;
  }
  return false;
}

TEST(StartupChecks, ATaskNoGpuCanEverRunIsAnError) {
  std::int64_t totals[] = {24576};
  StartupReport r = check_against_gpus(Config{}, catalog(kTasks), totals);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_TRUE(mentions(r.errors, "tasks.huge.vram: the rule asks for at least 30000 MiB"));
  // `scaled` fits at n <= 23 but not at its default of 50: a warning only.
  EXPECT_TRUE(mentions(r.warnings, "tasks.scaled.vram: with its default parameters"));
  EXPECT_FALSE(mentions(r.warnings, "tasks.small"));
}

TEST(StartupChecks, ALargerGpuMakesItFit) {
  std::int64_t totals[] = {24576, 81920};
  StartupReport r = check_against_gpus(Config{}, catalog(kTasks), totals);
  EXPECT_TRUE(r.errors.empty());
  EXPECT_TRUE(r.warnings.empty());
}

TEST(StartupChecks, ABufferAsLargeAsTheGpuIsAnError) {
  Config c;
  c.vram_buffer_mb = 30000;
  std::int64_t totals[] = {24576};
  StartupReport r = check_against_gpus(c, catalog(""), totals);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_TRUE(mentions(r.errors, "vram_buffer_mb (--vram-buffer-mb) 30000"));
}

TEST(StartupChecks, RawCommandDefaultLargerThanAnyGpuIsAWarning) {
  Config c;
  c.allow_raw_commands = true;
  c.default_vram_mb = 50000;
  std::int64_t totals[] = {24576};
  StartupReport r = check_against_gpus(c, catalog(""), totals);
  EXPECT_TRUE(r.errors.empty());
  EXPECT_TRUE(mentions(r.warnings, "default_vram_mb"));
}

}  // namespace
}  // namespace vramq::core

namespace vramq::core {
namespace {

TEST(Exposure, RawCommandsWithoutTokensOnlyOnLoopbackUnlessSaidLoudly) {
  Config c;
  c.allow_raw_commands = true;
  for (const char* local : {"127.0.0.1:8000", "127.1.2.3:1", "localhost:8000", "[::1]:8000"}) {
    c.listen = local;
    EXPECT_TRUE(check_exposure(c).errors.empty()) << local;
  }
  for (const char* open : {"0.0.0.0:8000", "10.0.0.5:8000", "[::]:8000", "gpu-box:8000"}) {
    c.listen = open;
    StartupReport r = check_exposure(c);
    ASSERT_EQ(r.errors.size(), 1u) << open;
    EXPECT_NE(r.errors[0].find("--unsafe-raw-commands-without-tokens"), std::string::npos);
    c.token_file = "/etc/vramq/tokens";
    EXPECT_TRUE(check_exposure(c).errors.empty()) << open;
    c.token_file.clear();
    c.unsafe_raw_commands_without_tokens = true;
    r = check_exposure(c);
    EXPECT_TRUE(r.errors.empty());
    ASSERT_EQ(r.warnings.size(), 1u);
    EXPECT_TRUE(r.warnings[0].starts_with("UNSAFE")) << r.warnings[0];
    c.unsafe_raw_commands_without_tokens = false;
  }
  c.allow_raw_commands = false;
  c.listen = "0.0.0.0:8000";
  EXPECT_TRUE(check_exposure(c).errors.empty());
  EXPECT_TRUE(check_exposure(c).warnings.empty());
}

TEST(Exposure, LoopbackHosts) {
  EXPECT_TRUE(is_loopback_host("127.0.0.1"));
  EXPECT_TRUE(is_loopback_host("::1"));
  EXPECT_TRUE(is_loopback_host("[::1]"));
  EXPECT_FALSE(is_loopback_host("0.0.0.0"));
  EXPECT_FALSE(is_loopback_host("128.0.0.1"));
  EXPECT_FALSE(is_loopback_host("localhost.example.com"));
}

TEST(ConnectionCap, FitsUnderTheOpenFileLimitWithRoomToSpare) {
  ConnectionCap small = fit_connections(4096, 1024);
  EXPECT_EQ(small.connections, 1024 - 256);
  ASSERT_EQ(small.warnings.size(), 1u);
  EXPECT_NE(small.warnings[0].find("lowered to 768"), std::string::npos) << small.warnings[0];
  ConnectionCap big = fit_connections(4096, 65536);
  EXPECT_EQ(big.connections, 4096);
  EXPECT_TRUE(big.warnings.empty());
  EXPECT_EQ(fit_connections(100000, 65536).connections, 65536 - 8192);
  EXPECT_GE(fit_connections(4096, 64).connections, 16) << "a tiny limit still serves someone";
}

TEST(DataDirMode, PrivateUnlessSharedWithItsGroup) {
  EXPECT_EQ(data_dir_mode_warning("/d", 0700, false), std::nullopt);
  auto open = data_dir_mode_warning("/d", 0755, false);
  ASSERT_TRUE(open);
  EXPECT_NE(open->find("open to every user (mode 0755)"), std::string::npos) << *open;
  EXPECT_NE(open->find("chmod 700 /d"), std::string::npos) << *open;
  auto group = data_dir_mode_warning("/d", 0750, false);
  ASSERT_TRUE(group);
  EXPECT_NE(group->find("open to its group"), std::string::npos) << *group;
  EXPECT_EQ(data_dir_mode_warning("/d", 0750, true), std::nullopt);
  EXPECT_TRUE(data_dir_mode_warning("/d", 0770, true)) << "group write is more than reading";
  EXPECT_TRUE(data_dir_mode_warning("/d", 0754, true));
  EXPECT_EQ(data_dir_mode_warning("/d", 0711, false), std::nullopt) << "search lists nothing";
  EXPECT_TRUE(data_dir_mode_warning("/d", 0701 | 0004, false));
}

}  // namespace
}  // namespace vramq::core
