#include "core/run_outcome.hpp"

#include <errno.h>
#include <gtest/gtest.h>
#include <signal.h>

namespace vramq::core {
namespace {

RunEnd code(int c) {
  return {.exit_code = c};
}
RunEnd sig(int s) {
  return {.signal = s};
}

TEST(RunOutcome, ARunEndingOnItsOwn) {
  EXPECT_EQ(run_outcome({}, code(0)), (RunOutcome{JobState::succeeded, EndReason::none, ""}));
  EXPECT_EQ(run_outcome({}, code(3)),
            (RunOutcome{JobState::failed, EndReason::nonzero_exit, "exited with code 3"}));
  EXPECT_EQ(run_outcome({}, sig(SIGSEGV)),
            (RunOutcome{JobState::failed, EndReason::signal, "killed by SIGSEGV"}));
}

TEST(RunOutcome, TheServersOwnStopDecidesWhateverTheExit) {
  for (const RunEnd& end : {code(0), code(1), sig(SIGTERM), sig(SIGKILL)}) {
    EXPECT_EQ(run_outcome({.why = EndReason::timeout, .timeout_s = 30}, end),
              (RunOutcome{JobState::timed_out, EndReason::timeout,
                          "ran past its timeout of 30 s and was stopped"}));
    EXPECT_EQ(run_outcome({.why = EndReason::cancelled}, end).state, JobState::cancelled);
    RunOutcome over = run_outcome({.why = EndReason::vram_exceeded, .detail = "used 9 MiB"}, end);
    EXPECT_EQ(over.reason, EndReason::vram_exceeded);
    EXPECT_TRUE(over.error.starts_with("used 9 MiB; stopped")) << over.error;
    EXPECT_EQ(run_outcome({.why = EndReason::interrupted}, end).reason, EndReason::interrupted);
  }
}

TEST(RunOutcome, EndsWithoutAnExitOfTheirOwn) {
  RunOutcome spawn = run_outcome({.why = EndReason::cancelled}, {.spawn_error = "cannot run x"});
  EXPECT_EQ(spawn, (RunOutcome{JobState::failed, EndReason::spawn_failed, "cannot run x"}));
  RunOutcome lost = run_outcome({}, {.lost = "its supervisor ended without a record"});
  EXPECT_EQ(lost, (RunOutcome{JobState::failed, EndReason::interrupted,
                              "its supervisor ended without a record"}));
  // Ended by its supervisor after the orphan grace: interrupted, saying so, whatever the signal.
  RunOutcome orphan = run_outcome({}, {.signal = SIGTERM, .orphaned = true});
  EXPECT_EQ(orphan.state, JobState::failed);
  EXPECT_EQ(orphan.reason, EndReason::interrupted);
  EXPECT_NE(orphan.error.find("--orphan-grace-s"), std::string::npos) << orphan.error;
  // A cancel the server had sent before it went away still counts as the cancel.
  EXPECT_EQ(run_outcome({.why = EndReason::cancelled}, {.signal = SIGTERM, .orphaned = true}).state,
            JobState::cancelled);
}

TEST(RunOutcome, ALogPastItsCapFailsTheJobAndIsNotRetried) {
  RunOutcome capped =
      run_outcome({}, {.signal = SIGTERM, .log_limit = "stdout", .log_limit_bytes = 1000});
  EXPECT_EQ(capped.state, JobState::failed);
  EXPECT_EQ(capped.reason, EndReason::log_limit);
  EXPECT_NE(capped.error.find("stdout.log reached the limit of 1000 bytes"), std::string::npos)
      << capped.error;
  EXPECT_FALSE(should_retry(capped.state, capped.reason, 1, 5));
  // A cancel or timeout sent first still decides.
  EXPECT_EQ(run_outcome({.why = EndReason::timeout, .timeout_s = 5},
                        {.signal = SIGTERM, .log_limit = "stdout"})
                .reason,
            EndReason::timeout);
}

TEST(RunOutcome, HostErrorsAreTheHostsNotTheJobs) {
  for (int e : {ENOSPC, EDQUOT, EMFILE, ENFILE, EAGAIN, ENOMEM, EIO})
    EXPECT_TRUE(is_host_error(e)) << e;
  for (int e : {0, ENOENT, EACCES, ENOEXEC, ENOTDIR, E2BIG})
    EXPECT_FALSE(is_host_error(e)) << e << ": a bad argv or program stays spawn_failed";
  EXPECT_EQ(host_failure_backoff_ms(1), 1000);
  EXPECT_EQ(host_failure_backoff_ms(2), 2000);
  EXPECT_EQ(host_failure_backoff_ms(6), 32000);
  EXPECT_EQ(host_failure_backoff_ms(7), 60000);
  EXPECT_EQ(host_failure_backoff_ms(1000), 60000);
  EXPECT_EQ(host_failure_backoff_ms(0), 1000);
}

TEST(RunOutcome, RetriesFollowTheStateAndTheAttemptsLeft) {
  EXPECT_TRUE(should_retry(JobState::failed, EndReason::nonzero_exit, 1, 1));
  EXPECT_FALSE(should_retry(JobState::failed, EndReason::nonzero_exit, 2, 1));
  EXPECT_TRUE(should_retry(JobState::timed_out, EndReason::timeout, 1, 2));
  EXPECT_TRUE(should_retry(JobState::failed, EndReason::interrupted, 1, 1));
  EXPECT_TRUE(should_retry(JobState::failed, EndReason::gpu_oom, 1, 1));
  EXPECT_FALSE(should_retry(JobState::failed, EndReason::spawn_failed, 1, 5));
  EXPECT_FALSE(should_retry(JobState::failed, EndReason::dependency_failed, 1, 5));
  EXPECT_FALSE(should_retry(JobState::cancelled, EndReason::cancelled, 1, 5));
  EXPECT_FALSE(should_retry(JobState::succeeded, EndReason::none, 1, 5));
}

TEST(RunOutcome, OnlyOwnFailuresAreCheckedForGpuOom) {
  EXPECT_TRUE(failed_by_itself(EndReason::nonzero_exit));
  EXPECT_TRUE(failed_by_itself(EndReason::signal));
  for (EndReason r : {EndReason::none, EndReason::timeout, EndReason::cancelled,
                      EndReason::interrupted, EndReason::vram_exceeded, EndReason::spawn_failed}) {
    EXPECT_FALSE(failed_by_itself(r));
  }
}

TEST(RunOutcome, RunsOnWarmWorkers) {
  using K = WorkerRunEnd::Kind;
  EXPECT_EQ(worker_run_outcome({}, {.kind = K::result}).state, JobState::succeeded);
  RunOutcome e = worker_run_outcome({}, {.kind = K::error, .message = "bad image"});
  EXPECT_EQ(e.reason, EndReason::worker_error);
  EXPECT_EQ(e.error, "the worker reported an error: bad image");
  EXPECT_FALSE(should_retry(e.state, e.reason, 1, 5)) << "it said a retry would fail too";
  RunOutcome r = worker_run_outcome({}, {.kind = K::error, .message = "busy", .retryable = true});
  EXPECT_EQ(r.reason, EndReason::worker_failed);
  EXPECT_TRUE(should_retry(r.state, r.reason, 1, 1));
  EXPECT_EQ(worker_run_outcome({}, {.kind = K::cancelled}).reason, EndReason::worker_error)
      << "a cancel nobody asked for";
  RunOutcome crash =
      worker_run_outcome({}, {.kind = K::crashed, .message = "its worker 3 (a) was killed"});
  EXPECT_EQ(crash, (RunOutcome{JobState::failed, EndReason::worker_crashed,
                               "its worker 3 (a) was killed"}));
  EXPECT_TRUE(failed_by_itself(crash.reason)) << "its log is read for an out-of-memory death";
  EXPECT_EQ(worker_run_outcome(
                {}, {.kind = K::crashed, .exit = {.log_limit = "stderr", .log_limit_bytes = 10}})
                .reason,
            EndReason::log_limit);
  // A stop the server asked for decides, whatever came back.
  for (K k : {K::result, K::error, K::cancelled, K::crashed}) {
    EXPECT_EQ(worker_run_outcome({.why = EndReason::cancelled}, {.kind = k}).state,
              JobState::cancelled);
    EXPECT_EQ(worker_run_outcome({.why = EndReason::timeout, .timeout_s = 5}, {.kind = k}).state,
              JobState::timed_out);
  }
}

TEST(RelabelGpuOom, OnlyARunThatFailedOnItsOwnWithTheSignsBecomesGpuOom) {
  constexpr std::string_view kOom = "torch.OutOfMemoryError: CUDA out of memory. Tried to ...";
  for (EndReason own : {EndReason::nonzero_exit, EndReason::signal, EndReason::worker_crashed,
                        EndReason::worker_error, EndReason::worker_failed}) {
    RunOutcome o{.state = JobState::failed, .reason = own, .error = "exit 1"};
    EXPECT_TRUE(relabel_gpu_oom(o, kOom, 2000, 2500)) << to_string(own);
    EXPECT_EQ(o.reason, EndReason::gpu_oom);
    EXPECT_NE(o.error.find("2500 MiB, more than its reservation of 2000 MiB"), std::string::npos)
        << o.error;
  }
  for (EndReason stopped : {EndReason::cancelled, EndReason::timeout, EndReason::vram_exceeded,
                            EndReason::interrupted, EndReason::spawn_failed, EndReason::none}) {
    RunOutcome o{.state = JobState::failed, .reason = stopped, .error = "e"};
    EXPECT_FALSE(relabel_gpu_oom(o, kOom, 2000, 2500)) << to_string(stopped);
    EXPECT_EQ(o.reason, stopped);
  }
  RunOutcome plain{.state = JobState::failed, .reason = EndReason::nonzero_exit, .error = "e"};
  EXPECT_FALSE(relabel_gpu_oom(plain, "ValueError: bad image", 2000, std::nullopt));
  EXPECT_EQ(plain.error, "e");
}

// Every combination of the facts about a run lost at start-up, against the rule written out.
TEST(LostRun, AWorkersRunIsRequeuedOnceThenRetriedOrFailedLikeAnyOther) {
  for (bool requeue : {false, true}) {
    for (bool before : {false, true}) {
      for (int attempt = 1; attempt <= 3; ++attempt) {
        for (int max_retries = 0; max_retries <= 2; ++max_retries) {
          LostRun got = lost_run({.requeue_on_restart = requeue,
                                  .requeued_before = before,
                                  .attempt = attempt,
                                  .max_retries = max_retries});
          LostRun want = requeue && !before       ? LostRun::requeue_once
                         : attempt <= max_retries ? LostRun::retry
                                                  : LostRun::fail;
          EXPECT_EQ(got, want) << requeue << before << attempt << max_retries;
        }
      }
    }
  }
  // The cases by name: a worker's run whose task opts out is an ordinary lost run.
  EXPECT_EQ(
      lost_run(
          {.requeue_on_restart = false, .requeued_before = false, .attempt = 1, .max_retries = 0}),
      LostRun::fail);
  EXPECT_EQ(
      lost_run(
          {.requeue_on_restart = true, .requeued_before = true, .attempt = 2, .max_retries = 0}),
      LostRun::fail);
  EXPECT_EQ(
      lost_run(
          {.requeue_on_restart = true, .requeued_before = false, .attempt = 5, .max_retries = 0}),
      LostRun::requeue_once);
}

}  // namespace
}  // namespace vramq::core
