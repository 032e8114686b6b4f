// Attribution over a made-up process table: group members and descendants are the job's,
// everything else (and memory no process accounts for) is foreign.
#include "gpu/attribution.hpp"

#include <gtest/gtest.h>

#include <map>

namespace vramq::gpu {
namespace {

// pid -> (comm, ppid, pgid). Job 7 leads group 100; job 8 leads group 200.
const std::map<std::int64_t, util::ProcStat> kTable = {
    {100, {.comm = "python3", .ppid = 1, .pgid = 100}},
    {101, {.comm = "worker", .ppid = 100, .pgid = 100}},   // in the group
    {102, {.comm = "escaped", .ppid = 100, .pgid = 102}},  // left the group: a descendant
    {103, {.comm = "grandkid", .ppid = 102, .pgid = 103}},
    {200, {.comm = "model", .ppid = 1, .pgid = 200}},
    {300, {.comm = "Xorg", .ppid = 1, .pgid = 300}},  // not ours
    {301, {.comm = "jupyter", .ppid = 300, .pgid = 301}},
};

std::optional<util::ProcStat> lookup(std::int64_t pid) {
  auto it = kTable.find(pid);
  return it == kTable.end() ? std::nullopt : std::optional(it->second);
}

const std::vector<JobProbe> kJobs = {{.job = 7, .gpus = {0}, .reservation_mb = 4000, .pgid = 100},
                                     {.job = 8, .gpus = {1}, .reservation_mb = 6000, .pgid = 200}};

TEST(Attribution, GroupMembersAndDescendantsBelongToTheJob) {
  EXPECT_EQ(owner_of(100, kJobs, lookup), 7);
  EXPECT_EQ(owner_of(101, kJobs, lookup), 7);
  EXPECT_EQ(owner_of(102, kJobs, lookup), 7);
  EXPECT_EQ(owner_of(103, kJobs, lookup), 7);
  EXPECT_EQ(owner_of(200, kJobs, lookup), 8);
  EXPECT_EQ(owner_of(300, kJobs, lookup), std::nullopt);
  EXPECT_EQ(owner_of(301, kJobs, lookup), std::nullopt);
  EXPECT_EQ(owner_of(999, kJobs, lookup), std::nullopt);  // gone
  EXPECT_EQ(owner_of(101, {}, lookup), std::nullopt);     // no jobs: nothing is ours
}

TEST(Attribution, ACycleInTheTableEndsTheWalk) {
  auto cyclic = [](std::int64_t pid) -> std::optional<util::ProcStat> {
    return util::ProcStat{.comm = "x", .ppid = pid == 5 ? 6 : 5, .pgid = pid};
  };
  EXPECT_EQ(owner_of(5, kJobs, cyclic), std::nullopt);
}

TEST(Attribution, SplitsUseIntoJobsAndForeign) {
  std::vector<NvmlDevice> devices = {
      {.index = 0,
       .uuid = "GPU-0",
       .name = "A",
       .total_mb = 24576,
       .used_mb = 9500,  // 3000 + 1500 (job 7) + 4000 (Xorg) + 1000 nobody's
       .processes = {{.pid = 101, .used_mb = 3000},
                     {.pid = 103, .used_mb = 1500},
                     {.pid = 300, .used_mb = 4000}}},
      {.index = 1,
       .uuid = "GPU-1",
       .name = "B",
       .total_mb = 81920,
       .used_mb = 7000,
       .processes = {{.pid = 200, .used_mb = -1}, {.pid = 999, .used_mb = 500}}},
  };
  GpuSample s = attribute(devices, kJobs, lookup);
  ASSERT_EQ(s.gpus.size(), 2U);
  EXPECT_EQ(s.job_used_mb.at(7).at(0), 4500);
  EXPECT_FALSE(s.job_used_mb.contains(8));  // no reading: it counts as its reservation
  EXPECT_EQ(s.gpus[0].foreign_mb, 5000);
  ASSERT_EQ(s.gpus[0].foreign_processes.size(), 1U);
  EXPECT_EQ(s.gpus[0].foreign_processes[0].pid, 300);
  EXPECT_EQ(s.gpus[0].foreign_processes[0].name, "Xorg");
  EXPECT_EQ(s.gpus[0].foreign_processes[0].used_mb, 4000);
  // Job 8's unreadable process stands for its 6000 MiB reservation; a vanished PID is foreign.
  EXPECT_EQ(s.gpus[1].foreign_mb, 1000);
  ASSERT_EQ(s.gpus[1].foreign_processes.size(), 1U);
  EXPECT_EQ(s.gpus[1].foreign_processes[0].name, "");
  EXPECT_EQ(s.gpus[0].uuid, "GPU-0");
  EXPECT_EQ(s.gpus[1].total_mb, 81920);
}

TEST(Attribution, WithoutAProcessListJobsCountAsTheirReservations) {
  std::vector<NvmlDevice> devices = {{.index = 0,
                                      .uuid = "GPU-0",
                                      .name = "A",
                                      .total_mb = 24576,
                                      .used_mb = 9000,
                                      .processes = {},
                                      .processes_known = false},
                                     {.index = 1,
                                      .uuid = "GPU-1",
                                      .name = "B",
                                      .total_mb = 24576,
                                      .used_mb = 7000,
                                      .processes = {},
                                      .processes_known = false}};
  GpuSample s = attribute(devices, kJobs, lookup);
  EXPECT_EQ(s.gpus[0].foreign_mb, 5000);  // 9000 used - job 7's 4000 reserved
  EXPECT_EQ(s.gpus[1].foreign_mb, 1000);  // 7000 used - job 8's 6000 reserved
  EXPECT_TRUE(s.job_used_mb.empty());     // nothing measured: reservations count
}

TEST(Attribution, ForeignNeverGoesNegative) {
  std::vector<NvmlDevice> devices = {{.index = 0,
                                      .uuid = "GPU-0",
                                      .name = "A",
                                      .total_mb = 8192,
                                      .used_mb = 1000,
                                      .processes = {{.pid = 100, .used_mb = 2000}}}};
  GpuSample s = attribute(devices, kJobs, lookup);
  EXPECT_EQ(s.gpus[0].foreign_mb, 0);
  EXPECT_EQ(s.job_used_mb.at(7).at(0), 2000);
}

}  // namespace
}  // namespace vramq::gpu
