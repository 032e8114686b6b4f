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
