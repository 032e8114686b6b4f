// pack_job/unpack_job: every field survives the round trip, and bytes that pack_job did not
// produce (any truncation, trailing garbage) are refused without reading out of bounds.
#include "core/job_record.hpp"

#include <gtest/gtest.h>

#include <limits>

namespace vramq::core {
namespace {

Job full_job() {
  Job j;
  j.id = 42;
  j.spec = {.task = "triposr",
            .params_json = R"({"image":"/data/a.png","mc_resolution":256})",
            .argv = {"/usr/bin/python3", "run.py", "", std::string(300, 'x')},
            .cwd = "/srv/models",
            .env = {{"HF_HOME", "/cache"}, {"EMPTY", ""}},
            .vram_mb = 6144,
            .priority = -3,
            .timeout_s = 3600,
            .max_retries = 2};
  j.state = JobState::queued;
  j.reason = EndReason::gpu_oom;
  j.gpu = 1;
  j.gpus = {1, 3};
  j.spec.gpus = 2;
  j.attempt = 2;
  j.submitted_at_ms = 1'700'000'000'000;
  j.queued_at_ms = 1'700'000'000'500;
  j.started_at_ms = 1'700'000'001'000;
  j.finished_at_ms = 0;
  j.exit_code = -1;
  j.signal = 9;
  j.error = "attempt 1: out of memory; retrying";
  j.peak_vram_mb = 7000;
  j.output = std::string("bytes\0with nul", 14);
  j.output_truncated = true;
  j.spec.retry_delay_s = 30;
  j.spec.after_ok = {3, 4};
  j.spec.after_any = {5};
  j.not_before_ms = 1'800'000'000'000;
  j.spec.name = "nightly";
  j.spec.labels = {{"project", "tripo"}, {"team", ""}};
  j.spec.owner = "alice";
  j.pid = 12345;
  j.pid_start_ticks = 987654321;
  return j;
}

TEST(JobRecord, EveryFieldSurvivesTheRoundTrip) {
  Job j = full_job();
  auto back = unpack_job(pack_job(j));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, j);
}

TEST(JobRecord, ADefaultJobSurvivesTheRoundTrip) {
  auto back = unpack_job(pack_job(Job{}));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, Job{});
}

TEST(JobRecord, IsCompact) {
  // Integers are varints: a typical queued job is about its strings and a few bytes more.
  Job j;
  j.spec.argv = {"/bin/sleep", "3600"};
  j.submitted_at_ms = j.queued_at_ms = 1'800'000'000'000;
  j.spec.vram_mb = 20000;
  EXPECT_LT(pack_job(j).size(), 80U);
}

TEST(JobRecord, ExtremeIntegersSurviveTheRoundTrip) {
  Job j = full_job();
  j.id = std::numeric_limits<std::int64_t>::max();
  j.spec.vram_mb = std::numeric_limits<std::int64_t>::min();
  j.exit_code = std::numeric_limits<int>::min();
  j.spec.priority = std::numeric_limits<int>::max();
  j.spec.after_ok = {std::numeric_limits<std::int64_t>::min(), 0, -1};
  j.gpus = {0, 63};
  auto back = unpack_job(pack_job(j));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, j);
}

TEST(JobRecord, RefusesEveryTruncationAndTrailingBytes) {
  std::string record = pack_job(full_job());
  for (std::size_t n = 0; n < record.size(); ++n)
    EXPECT_FALSE(unpack_job(std::string_view(record).substr(0, n))) << n;
  EXPECT_FALSE(unpack_job(record + "x"));
}

}  // namespace
}  // namespace vramq::core
