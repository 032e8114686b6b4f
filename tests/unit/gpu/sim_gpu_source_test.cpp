#include "gpu/sim_gpu_source.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "util/untrusted_files.hpp"

namespace vramq::gpu {
namespace {

TEST(SimGpuSource, ReportsTotalsAndJobReportsOrReservations) {
  auto file = std::filesystem::temp_directory_path() / ("vramq-sim-" + std::to_string(::getpid()));
  std::ofstream(file) << "3000\n";
  SimGpuSource src({24576, 8192});
  std::vector<JobProbe> jobs = {
      {.job = 1, .gpus = {0}, .reservation_mb = 4000, .sim_vram_file = file.string()},
      {.job = 2, .gpus = {0}, .reservation_mb = 2000, .sim_vram_file = "/nonexistent"},
      {.job = 3, .gpus = {1}, .reservation_mb = 1000}};
  auto s = src.sample(jobs);
  ASSERT_TRUE(s);
  ASSERT_EQ(s->gpus.size(), 2u);
  EXPECT_EQ(s->gpus[0].total_mb, 24576);
  EXPECT_EQ(s->gpus[0].used_mb, 3000 + 2000);  // a job without a report counts its reservation
  EXPECT_EQ(s->gpus[1].used_mb, 1000);
  EXPECT_EQ(s->gpus[0].foreign_mb, 0);
  EXPECT_NE(s->gpus[0].uuid, s->gpus[1].uuid);
  EXPECT_EQ(s->job_used_mb.at(1).at(0), 3000);
  EXPECT_FALSE(s->job_used_mb.contains(2));
  std::ofstream(file) << "garbage";
  EXPECT_FALSE(util::read_mb_file(file.string()));
  std::filesystem::remove(file);
}

}  // namespace
}  // namespace vramq::gpu
