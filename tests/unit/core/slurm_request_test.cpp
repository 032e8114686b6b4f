// How jobs are asked of Slurm (issue 14): shards per GPU, the count-only vram GRES, whole GPUs for
// multi-GPU jobs, time in minutes, priority as --nice, and requests no GPU could ever take refused.
#include "core/slurm_request.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace vramq::core {
namespace {

using Args = std::vector<std::string>;

TEST(SlurmRequest, ShardsOfOneGpu) {
  SlurmSettings s{.shard_mb = 1024, .partition = "gpu", .largest_gpu_units = 24};
  auto r = sbatch_options(
      {.id = 7, .vram_mb = 14336, .gpus = 1, .timeout_s = 90, .priority = 5, .job_dir = "/j/7"}, s);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(*r, (Args{"--partition=gpu", "--gres=shard:14", "--time=2", "--nice=995",
                      "--job-name=vramq-7", "--chdir=/j/7", "--output=/j/7/stdout.log",
                      "--error=/j/7/stderr.log"}));
}

TEST(SlurmRequest, ANeverSatisfiableRequestIsRefused) {
  SlurmSettings s{.shard_mb = 1024, .largest_gpu_units = 24};
  auto r = sbatch_options({.id = 1, .vram_mb = 40960, .gpus = 1}, s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message,
            "vram_mb: 40960 MiB needs 40 shards of 1024 MiB on one GPU, and no GPU of the cluster "
            "has more than 24 (24576 MiB)");
  s.largest_gpu_units = 0;  // the cluster not read yet: nothing refused for size
  EXPECT_TRUE(sbatch_options({.id = 1, .vram_mb = 40960, .gpus = 1}, s));
}

TEST(SlurmRequest, CountOnlyVramWithOneWholeGpu) {
  SlurmSettings s{.mode = SlurmVramMode::vram, .account = "ml", .extra_args = {"--qos=low"}};
  auto r =
      sbatch_options({.id = 3, .vram_mb = 6000, .gpus = 1, .priority = -1000, .job_dir = "/d"}, s);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r,
            (Args{"--gres=gpu:1,vram:6000", "--account=ml", "--nice=2000", "--job-name=vramq-3",
                  "--chdir=/d", "--output=/d/stdout.log", "--error=/d/stderr.log", "--qos=low"}));
}

TEST(SlurmRequest, SeveralGpusNeedAPartitionOfWholeGpus) {
  SlurmSettings s;
  auto r = sbatch_options({.id = 4, .vram_mb = 8000, .gpus = 2}, s);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("partition of whole GPUs"), std::string::npos);
  s.gpu_partition = "whole";
  r = sbatch_options({.id = 4, .vram_mb = 8000, .gpus = 2, .job_dir = "/d"}, s);
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)[0], "--partition=whole");
  EXPECT_EQ((*r)[1], "--gres=gpu:2");
}

TEST(SlurmRequest, NameAndWorkingDirectory) {
  auto r = sbatch_options({.id = 9,
                           .vram_mb = 1024,
                           .job_dir = "/j/9",
                           .name = "vramq-abcd1234-9.2",
                           .cwd = "/data/project"},
                          SlurmSettings{});
  ASSERT_TRUE(r);
  EXPECT_NE(std::ranges::find(*r, "--job-name=vramq-abcd1234-9.2"), r->end());
  EXPECT_NE(std::ranges::find(*r, "--chdir=/data/project"), r->end());
  EXPECT_NE(std::ranges::find(*r, "--output=/j/9/stdout.log"),
            r->end());  // logs stay in the job dir
}

TEST(SlurmRequest, Pieces) {
  EXPECT_EQ(shards_for(1, 1024), 1);
  EXPECT_EQ(shards_for(1024, 1024), 1);
  EXPECT_EQ(shards_for(1025, 1024), 2);
  EXPECT_EQ(shards_for(0, 1024), 1);
  EXPECT_EQ(time_limit_minutes(0), 0);
  EXPECT_EQ(time_limit_minutes(1), 1);
  EXPECT_EQ(time_limit_minutes(60), 1);
  EXPECT_EQ(time_limit_minutes(61), 2);
  EXPECT_EQ(nice_for(1000), 0);
  EXPECT_EQ(nice_for(0), 1000);
  EXPECT_EQ(nice_for(5000), 0);
}

}  // namespace
}  // namespace vramq::core
