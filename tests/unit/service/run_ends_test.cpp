// How a run's end becomes the job's: exit codes, signals, out-of-memory deaths, lost and
// orphaned runs, log caps, start failures, retries with their delays and grown reservations.
// On the service harness: each test takes milliseconds.
#include <signal.h>

#include <filesystem>

#include "service_harness.hpp"

namespace vramq::service {
namespace {
using core::EndReason;
using core::JobState;

class RunEnds : public testing::ServiceTest {
 protected:
  core::JobId submit_retried(std::int64_t mb, int retries, std::int64_t delay_s = 0) {
    SubmitRequest req = request(mb);
    req.max_retries = retries;
    req.retry_delay_s = delay_s;
    return submit(std::move(req));
  }
};

TEST_F(RunEnds, ASuccessKeepsTheTailOfStdoutAsItsOutput) {
  config_.output_limit_bytes = 8;  // the job object keeps this much of stdout
  core::JobId a = submit(1000);
  write_job_file(a, "stdout.log", "0123456789abcdef");
  exec_->exit(a, 0);
  settle();
  core::Job j = job(a);
  EXPECT_EQ(j.state, JobState::succeeded);
  EXPECT_EQ(j.reason, EndReason::none);
  EXPECT_EQ(j.exit_code, 0);
  EXPECT_GT(j.finished_at_ms, 0);
  EXPECT_EQ(exec_->released, (std::vector<std::pair<core::JobId, int>>{{a, 1}}));
}

TEST_F(RunEnds, OutputIsTruncatedToItsLimitAndSaysSo) {
  core::JobId a = submit(1000);
  write_job_file(a, "stdout.log", std::string(70'000, 'x') + "the end\n");
  exec_->exit(a, 0);
  settle();
  core::Job j = job(a);
  EXPECT_TRUE(j.output_truncated);
  EXPECT_EQ(j.output.size(), 64U << 10);
  EXPECT_TRUE(j.output.ends_with("the end\n"));
}

TEST_F(RunEnds, ASignalFailsTheJobAndNamesIt) {
  core::JobId a = submit(1000);
  exec_->exit_with(a, {.signal = SIGSEGV});
  settle();
  core::Job j = job(a);
  EXPECT_EQ(j.state, JobState::failed);
  EXPECT_EQ(j.reason, EndReason::signal);
  EXPECT_EQ(j.signal, SIGSEGV);
}

TEST_F(RunEnds, ACudaOutOfMemoryDeathIsGpuOomAndItsRetryAsksForMore) {
  core::JobId a = submit_retried(2000, 1);
  write_job_file(a, "stderr.log", "Traceback...\ntorch.OutOfMemoryError: CUDA out of memory.\n");
  exec_->exit(a, 1);
  settle();
  core::Job j = job(a);
  EXPECT_EQ(j.state, JobState::running) << "queued again and started at once";
  EXPECT_EQ(j.attempt, 2);
  EXPECT_EQ(j.spec.vram_mb, 3000) << "1.5x the reservation it ran out of";
  ASSERT_EQ(j.warnings.size(), 1U);
  EXPECT_NE(j.warnings[0].find("attempt 1"), std::string::npos) << j.warnings[0];
  EXPECT_NE(j.warnings[0].find("reservation 2000 -> 3000 MiB"), std::string::npos);
  EXPECT_TRUE(env_has(a, "VRAMQ_VRAM_MB=3000"));
  // Each attempt's logs are kept apart.
  EXPECT_TRUE(std::filesystem::exists(job_dir(a) + "/attempt-1.stderr.log"));
  // Without retries left, the same death ends it as gpu_oom.
  write_job_file(a, "stderr.log", "RuntimeError: CUDA error: out of memory\n");
  exec_->exit(a, 1);
  settle();
  j = job(a);
  EXPECT_EQ(j.state, JobState::failed);
  EXPECT_EQ(j.reason, EndReason::gpu_oom);
}

TEST_F(RunEnds, AnOrdinaryFailureIsRetriedWithoutGrowingAndTheLastEndStands) {
  core::JobId a = submit_retried(2000, 2);
  exec_->exit(a, 3);
  settle();
  EXPECT_EQ(job(a).attempt, 2);
  EXPECT_EQ(job(a).spec.vram_mb, 2000);
  exec_->exit(a, 0);
  settle();
  core::Job j = job(a);
  EXPECT_EQ(j.state, JobState::succeeded);
  EXPECT_EQ(j.attempt, 2);
  EXPECT_EQ(j.warnings.size(), 1U) << "the failed attempt stays on record";
  EXPECT_EQ(exec_->released, (std::vector<std::pair<core::JobId, int>>{{a, 1}, {a, 2}}));
}

TEST_F(RunEnds, ARetryDelayParksTheJobUntilItsTime) {
  core::JobId a = submit_retried(1000, 1, 1);
  exec_->exit(a, 1);
  settle();
  core::Job j = job(a);
  EXPECT_EQ(j.state, JobState::queued);
  EXPECT_GT(j.not_before_ms, 0);
  EXPECT_EQ(exec_->started.size(), 1U) << "not started again before its delay";
  auto view = run(o_->get(a));
  EXPECT_EQ((*view)->pending_reason, core::PendingReason::retry_delay);
  advance(std::chrono::milliseconds(900));
  EXPECT_EQ(exec_->started.size(), 1U);
  advance(std::chrono::milliseconds(150));
  EXPECT_EQ(exec_->started.size(), 2U);
  EXPECT_EQ(job(a).state, JobState::running);
}

TEST_F(RunEnds, ALogPastItsCapFailsTheJobAndIsNotRetried) {
  core::JobId a = submit_retried(1000, 3);
  exec_->exit_with(a, {.signal = SIGTERM, .log_limit = "stdout", .log_limit_bytes = 1000});
  settle();
  core::Job j = job(a);
  EXPECT_EQ(j.state, JobState::failed);
  EXPECT_EQ(j.reason, EndReason::log_limit);
  EXPECT_EQ(j.attempt, 1);
  EXPECT_NE(j.error.find("stdout.log"), std::string::npos) << j.error;
}

TEST_F(RunEnds, OrphanedAndLostRunsAreInterruptedAndRetriedWhenAllowed) {
  core::JobId orphan = submit(1000);
  core::JobId lost = submit_retried(1000, 1);
  exec_->exit_with(orphan, {.signal = SIGTERM, .orphaned = true});
  exec_->exit_with(lost, {.lost = "its supervisor ended without recording the job's exit"});
  settle();
  EXPECT_EQ(job(orphan).reason, EndReason::interrupted);
  EXPECT_EQ(job(orphan).state, JobState::failed);
  EXPECT_EQ(job(lost).attempt, 2) << "a lost run is retried while retries remain";
}

TEST_F(RunEnds, AStartThatFailsForAHostReasonIsQueuedAgainWithoutUsingAnAttempt) {
  exec_->fail_next = exec::SpawnError{EAGAIN, "fork: Resource temporarily unavailable"};
  core::JobId a = submit(1000);
  core::Job j = job(a);
  EXPECT_EQ(j.state, JobState::queued);
  EXPECT_EQ(j.attempt, 1);
  auto view = run(o_->get(a));
  EXPECT_EQ((*view)->pending_reason, core::PendingReason::start_failed);
  EXPECT_NE(j.warnings.back().find("Resource temporarily unavailable"), std::string::npos);
  advance(std::chrono::milliseconds(1100));
  EXPECT_TRUE(exec_->runs(a)) << "tried again after its back-off";
  EXPECT_EQ(job(a).attempt, 1);
}

TEST_F(RunEnds, AStartThatFailsForTheJobsOwnReasonFailsItAtOnce) {
  exec_->fail_next = exec::SpawnError{ENOENT, "cannot run /bin/nope: no such file"};
  core::JobId a = submit(1000);
  core::Job j = job(a);
  EXPECT_EQ(j.state, JobState::failed);
  EXPECT_EQ(j.reason, EndReason::spawn_failed);
  EXPECT_EQ(j.error, "cannot run /bin/nope: no such file");
}

TEST_F(RunEnds, ACancelledRunEndsCancelledWhateverItsExit) {
  core::JobId a = submit(1000);
  auto r = run(o_->cancel(a, Caller{}));
  EXPECT_EQ(r->outcome, CancelOutcome::stopping);
  exec_->exit_with(a, {.signal = SIGTERM});
  settle();
  EXPECT_EQ(job(a).state, JobState::cancelled);
  EXPECT_EQ(job(a).reason, EndReason::cancelled);
  // A second cancel of an ended job says so.
  EXPECT_EQ(run(o_->cancel(a, Caller{}))->outcome, CancelOutcome::already_ended);
}

TEST_F(RunEnds, AJobThatWaitsForAnyEndStartsAfterAFailureToo) {
  core::JobId a = submit(1000);
  SubmitRequest req = request(1000);
  req.after_any = {a};
  core::JobId b = submit(std::move(req));
  EXPECT_FALSE(exec_->runs(b));
  exec_->exit(a, 9);
  settle();
  EXPECT_TRUE(exec_->runs(b));
}

TEST_F(RunEnds, EveryEndIsStoredAsSeen) {
  core::JobId a = submit(1000);
  exec_->exit(a, 4);
  settle();
  const core::Job& stored = store_->rows().at(a);
  EXPECT_EQ(stored.state, JobState::failed);
  EXPECT_EQ(stored.exit_code, 4);
  EXPECT_EQ(stored.reason, EndReason::nonzero_exit);
}

}  // namespace
}  // namespace vramq::service
