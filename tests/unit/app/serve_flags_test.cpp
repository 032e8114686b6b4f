#include "app/serve_flags.hpp"

#include <gtest/gtest.h>

#include <CLI/CLI.hpp>

namespace vramq::app {
namespace {

core::Config parse(std::vector<std::string> args) {
  core::Config config;
  CLI::App app;
  add_config_flags(app, config);
  std::reverse(args.begin(), args.end());  // CLI11 takes them last first
  app.parse(args);
  return config;
}

TEST(ServeFlags, EachOptionIsAFlag) {
  core::Config c =
      parse({"--listen", "0.0.0.0:9", "--queue-max", "5", "--allow-raw-commands", "--retain-ended",
             "2h", "--vram-tolerance", "10%", "--vram-policy", "warn", "--slurm-sbatch-arg=--qos=a",
             "--slurm-sbatch-arg=--qos=b", "--tasks", "/etc/t.toml"});
  EXPECT_EQ(c.listen, "0.0.0.0:9");
  EXPECT_EQ(c.queue_max, 5);
  EXPECT_TRUE(c.allow_raw_commands);
  EXPECT_EQ(c.retain_ended_s, 7200);
  EXPECT_DOUBLE_EQ(c.vram_tolerance, 0.1);
  EXPECT_EQ(c.vram_policy, "warn");
  EXPECT_EQ(c.slurm_sbatch_args, (std::vector<std::string>{"--qos=a", "--qos=b"}));
  EXPECT_EQ(c.tasks_file, "/etc/t.toml");
  EXPECT_EQ(c.vram_buffer_mb, core::Config{}.vram_buffer_mb);  // not given: the default
}

TEST(ServeFlags, ValuesAnOptionCannotTakeAreUsageErrors) {
  EXPECT_THROW(parse({"--queue-max", "five"}), CLI::ValidationError);
  EXPECT_THROW(parse({"--retain-ended", "a week"}), CLI::ValidationError);
  EXPECT_THROW(parse({"--vram-tolerance", "10"}), CLI::ValidationError);  // 1000 %?
  EXPECT_THROW(parse({"--vram-policy", "shrug"}), CLI::ValidationError);
  EXPECT_THROW(parse({"--no-such-flag", "1"}), CLI::ParseError);
}

}  // namespace
}  // namespace vramq::app
