#include "core/config.hpp"

#include "core/slurm_request.hpp"

#include <gtest/gtest.h>

namespace vramq::core {
namespace {

TEST(Config, DefaultsAreValid) {
  EXPECT_TRUE(validate_config(Config{}));
}

TEST(Config, FileOverridesDefaults) {
  auto c = parse_config(R"(
listen = "0.0.0.0:9000"
gpus = "sim:2x24GiB"
queue_max = 50
allow_raw_commands = true
)",
                        Config{});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->listen, "0.0.0.0:9000");
  EXPECT_EQ(c->gpus, "sim:2x24GiB");
  EXPECT_EQ(c->queue_max, 50);
  EXPECT_TRUE(c->allow_raw_commands);
  EXPECT_EQ(c->vram_buffer_mb, 1024);  // untouched keys keep their defaults
}

TEST(Config, UnknownKeysAndWrongTypesNameTheKey) {
  auto typo = parse_config("queue_maks = 5\n", Config{});
  ASSERT_FALSE(typo);
  EXPECT_NE(typo.error().message.find("queue_maks"), std::string::npos);
  auto type = parse_config("queue_max = \"5\"\n", Config{});
  ASSERT_FALSE(type);
  EXPECT_NE(type.error().message.find("queue_max"), std::string::npos);
  EXPECT_FALSE(parse_config("allow_raw_commands = 1\n", Config{}));
  EXPECT_FALSE(parse_config("listen = [\n", Config{}));
}

TEST(Config, VramToleranceTakesAFractionOrAPercentageString) {
  auto percent = parse_config("vram_tolerance = \"10%\"\n", Config{});
  ASSERT_TRUE(percent) << percent.error().message;
  EXPECT_DOUBLE_EQ(percent->vram_tolerance, 0.1);
  auto fraction = parse_config("vram_tolerance = 0.25\n", Config{});
  ASSERT_TRUE(fraction);
  EXPECT_DOUBLE_EQ(fraction->vram_tolerance, 0.25);
  auto ambiguous = parse_config("vram_tolerance = 10\n", Config{});
  ASSERT_FALSE(ambiguous);
  EXPECT_NE(ambiguous.error().message.find("(10%)"), std::string::npos)
      << ambiguous.error().message;
  EXPECT_FALSE(parse_config("vram_tolerance = \"ten\"\n", Config{}));
}

TEST(Config, RetentionTakesADurationOrSeconds) {
  auto days = parse_config("retain_ended = \"7d\"\nretain_ended_count = 5\n", Config{});
  ASSERT_TRUE(days) << days.error().message;
  EXPECT_EQ(days->retain_ended_s, 7 * 86400);
  EXPECT_EQ(days->retain_ended_count, 5);
  auto seconds = parse_config("retain_ended = 3600\n", Config{});
  ASSERT_TRUE(seconds);
  EXPECT_EQ(seconds->retain_ended_s, 3600);
  auto bad = parse_config("retain_ended = \"a week\"\n", Config{});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("'retain_ended'"), std::string::npos) << bad.error().message;
  Config negative;
  negative.retain_ended_count = -1;
  EXPECT_FALSE(validate_config(negative));
}

TEST(Config, ValidationCatchesNonsense) {
  Config c;
  c.queue_max = 0;
  EXPECT_FALSE(validate_config(c));
  c = Config{};
  c.listen = "localhost";
  EXPECT_FALSE(validate_config(c));
  c.listen = "localhost:99999";
  EXPECT_FALSE(validate_config(c));
}

TEST(Config, VramEnforcementKeys) {
  auto c = parse_config("vram_tolerance = 0.25\nvram_grace_ms = 750\nvram_policy = \"warn\"\n",
                        Config{});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_DOUBLE_EQ(c->vram_tolerance, 0.25);
  EXPECT_EQ(c->vram_grace_ms, 750);
  EXPECT_EQ(c->vram_policy, "warn");
  EXPECT_TRUE(parse_config("vram_tolerance = 1\n", Config{}));  // an integer is a number too
  EXPECT_FALSE(parse_config("vram_tolerance = \"lots\"\n", Config{}));
  Config bad;
  bad.vram_policy = "shrug";
  EXPECT_FALSE(validate_config(bad));
  bad = Config{};
  bad.vram_tolerance = -0.1;
  EXPECT_FALSE(validate_config(bad));
  bad = Config{};
  bad.vram_grace_ms = -1;
  EXPECT_FALSE(validate_config(bad));
}

TEST(Config, EventKeys) {
  auto c =
      parse_config("event_ring_size = 0\nevent_ring_mb = 8\nevent_heartbeat_s = 2\n", Config{});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->event_ring_size, 0);
  EXPECT_EQ(c->event_ring_mb, 8);
  EXPECT_EQ(c->event_heartbeat_s, 2);
  EXPECT_TRUE(validate_config(*c));
  Config bad;
  bad.event_ring_size = -1;
  EXPECT_FALSE(validate_config(bad));
  bad = Config{};
  bad.event_ring_mb = 0;
  EXPECT_FALSE(validate_config(bad));
  bad = Config{};
  bad.event_heartbeat_s = 0;
  EXPECT_FALSE(validate_config(bad));
}

TEST(Config, SlurmKeys) {
  auto c = parse_config(R"(
executor = "slurm"
slurm_partition = "gpu"
slurm_gpu_partition = "whole"
slurm_account = "ml"
slurm_sbatch_args = ["--qos=low", "--exclusive=user"]
slurm_vram = "vram"
slurm_shard_mb = 512
slurm_poll_ms = 2000
)",
                        Config{});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_TRUE(validate_config(*c));
  EXPECT_EQ(c->executor, "slurm");
  EXPECT_EQ(c->slurm_sbatch_args, (std::vector<std::string>{"--qos=low", "--exclusive=user"}));
  EXPECT_EQ(c->slurm_shard_mb, 512);
  SlurmSettings s = slurm_settings(*c);
  EXPECT_EQ(s.mode, SlurmVramMode::vram);
  EXPECT_EQ(s.partition, "gpu");
  EXPECT_EQ(s.gpu_partition, "whole");
  EXPECT_EQ(s.account, "ml");
  EXPECT_EQ(s.extra_args.size(), 2U);

  auto bad = parse_config("slurm_sbatch_args = \"--qos=low\"\n", Config{});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "config: 'slurm_sbatch_args' must be a list of strings");
  Config same = *c;
  same.slurm_gpu_partition = same.slurm_partition;  // whole GPUs never beside shards
  EXPECT_FALSE(validate_config(same));
  Config mode = *c;
  mode.slurm_vram = "gres";
  EXPECT_FALSE(validate_config(mode));
  Config executor = *c;
  executor.executor = "kubernetes";
  EXPECT_FALSE(validate_config(executor));
}

TEST(HostPort, Forms) {
  EXPECT_EQ(parse_host_port("127.0.0.1:8000")->port, 8000);
  EXPECT_EQ(parse_host_port("[::1]:0")->host, "::1");
  EXPECT_FALSE(parse_host_port(":80"));
  EXPECT_FALSE(parse_host_port("host:"));
}

}  // namespace
}  // namespace vramq::core
