// The orchestrator's core paths on the service harness (service_harness.hpp): admission, queue
// order, cancel, dependencies, recovery of each kind of survivor.
#include "service_harness.hpp"

namespace vramq::service {
namespace {

using OrchestratorTest = testing::ServiceTest;

TEST_F(OrchestratorTest, StartsWhatFitsAndTheRestWhenRoomComes) {
  core::JobId a = submit(12000);
  core::JobId b = submit(12000);  // 12000 + 12000 + 1024 buffer > 24576: must wait
  EXPECT_TRUE(exec_->runs(a));
  EXPECT_FALSE(exec_->runs(b));
  EXPECT_EQ(job(b).state, core::JobState::queued);
  exec_->exit(a, 0);
  settle();
  EXPECT_EQ(job(a).state, core::JobState::succeeded);
  EXPECT_TRUE(exec_->runs(b));
  // What the job was given: its GPU and reservation in its environment.
  const exec::LaunchSpec& spec = exec_->started.at(1);
  EXPECT_NE(std::ranges::find(spec.env, std::string("VRAMQ_VRAM_MB=12000")), spec.env.end());
  EXPECT_NE(std::ranges::find(spec.env, std::string("VRAMQ_GPUS=0")), spec.env.end());
}

TEST_F(OrchestratorTest, ANonZeroExitFailsTheJob) {
  core::JobId a = submit(1000);
  exec_->exit(a, 3);
  settle();
  core::Job j = job(a);
  EXPECT_EQ(j.state, core::JobState::failed);
  EXPECT_EQ(j.reason, core::EndReason::nonzero_exit);
  EXPECT_EQ(j.exit_code, 3);
}

TEST_F(OrchestratorTest, CancellingAQueuedJobEndsItAndARunningOneIsSignalled) {
  core::JobId a = submit(20000);
  core::JobId b = submit(20000);
  auto queued = run(o_->cancel(b, Caller{}));
  ASSERT_TRUE(queued);
  EXPECT_EQ(queued->outcome, CancelOutcome::cancelled);
  EXPECT_EQ(job(b).state, core::JobState::cancelled);
  auto running = run(o_->cancel(a, Caller{}));
  EXPECT_EQ(running->outcome, CancelOutcome::stopping);
  ASSERT_FALSE(exec_->signals.empty());
  EXPECT_EQ(exec_->signals.front(), std::make_pair(a, SIGTERM));
  // Another token holder may not; its owner may.
  core::JobId c = submit(1000);
  auto other = run(o_->cancel(c, Caller{.name = "bob", .admin = false}));
  EXPECT_EQ(other->outcome, CancelOutcome::forbidden);
}

TEST_F(OrchestratorTest, ADependentStartsOnlyAfterItsDependencySucceeds) {
  core::JobId a = submit(1000);
  core::JobId b = submit(1000, {a});
  EXPECT_FALSE(exec_->runs(b));  // room enough, but it waits for a
  EXPECT_EQ(job(b).state, core::JobState::queued);
  exec_->exit(a, 0);
  settle();
  EXPECT_TRUE(exec_->runs(b));
  core::JobId c = submit(1000, {b});
  exec_->exit(b, 1);  // b fails: c can never start
  settle();
  core::Job jc = job(c);
  EXPECT_EQ(jc.state, core::JobState::cancelled);
  EXPECT_EQ(jc.reason, core::EndReason::dependency_failed);
  EXPECT_FALSE(exec_->runs(c));
}

TEST_F(OrchestratorTest, ARefusedSubmissionUsesNoId) {
  SubmitRequest too_big{.task = "run", .params = {{"mb", core::ParamInput{std::int64_t{90000}}}}};
  auto refused = run(o_->submit(std::move(too_big)));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, SubmitErrc::unprocessable);
  EXPECT_EQ(submit(1000), 1);
}

}  // namespace
}  // namespace vramq::service

namespace vramq::service {
namespace {

exec::Survivor alive_run(core::JobId job, std::int64_t started_at_ms) {
  return {.job = job,
          .attempt = 1,
          .started = true,
          .alive = true,
          .gpus = {0},
          .started_at_ms = started_at_ms,
          .supervisor = {.pid = 4242, .start_ticks = 7},
          .ended = std::nullopt};
}

TEST_F(OrchestratorTest, AnAdoptedRunKeepsItsStartAndHoldsItsMemoryBeforeAnyPass) {
  core::JobId a = submit(14000);
  core::Job before = job(a);
  ASSERT_EQ(before.state, core::JobState::running);
  restart({alive_run(a, before.started_at_ms)});
  ASSERT_EQ(exec_->adopted.size(), 1u);
  core::Job after = job(a);
  EXPECT_EQ(after.state, core::JobState::running);
  EXPECT_EQ(after.started_at_ms, before.started_at_ms);
  EXPECT_EQ(after.attempt, 1);
  EXPECT_EQ(after.pid, 4242);
  // 14000 + 14000 + 1024 buffer > 24576: the adopted run's memory is not free for another.
  core::JobId b = submit(14000);
  EXPECT_FALSE(exec_->runs(b));
  EXPECT_EQ(job(b).state, core::JobState::queued);
  exec_->exit(a, 0);
  settle();
  EXPECT_EQ(job(a).state, core::JobState::succeeded);
  EXPECT_TRUE(exec_->runs(b));
  EXPECT_EQ(exec_->released, (std::vector<std::pair<core::JobId, int>>{{a, 1}}));
}

TEST_F(OrchestratorTest, ARunWhoseStartWasNeverStoredIsAdoptedNotStartedAgain) {
  core::JobId a = submit(20000);
  core::JobId b = submit(20000);  // queued behind a
  ASSERT_EQ(job(b).state, core::JobState::queued);
  // As if the last server had spawned b and died before it stored the start.
  restart({alive_run(a, 1000), alive_run(b, 2000)});
  EXPECT_TRUE(exec_->started.empty());
  core::Job jb = job(b);
  EXPECT_EQ(jb.state, core::JobState::running);
  EXPECT_EQ(jb.started_at_ms, 2000);
  EXPECT_EQ(jb.gpus, std::vector<int>{0});
  exec_->exit(b, 0);
  exec_->exit(a, 0);
  settle();
  EXPECT_EQ(job(b).state, core::JobState::succeeded);
  EXPECT_TRUE(exec_->started.empty());  // ran once, under the last server
}

TEST_F(OrchestratorTest, RunsThatEndedWhileTheServerWasAwayFinishFromTheirRecord) {
  core::JobId ok = submit(1000);
  core::JobId bad = submit(1000);
  core::JobId orphan = submit(1000);
  core::JobId lost = submit(1000);
  auto ended = [](core::JobId id, exec::ExitStatus st) {
    exec::Survivor s = alive_run(id, 1000);
    s.alive = false;
    s.ended = std::move(st);
    return s;
  };
  restart({ended(ok, {.exit_code = 0}), ended(bad, {.exit_code = 4}),
           ended(orphan, {.signal = SIGTERM, .orphaned = true}),
           ended(lost, {.lost = "its supervisor ended without recording the job's exit"})});
  settle();
  EXPECT_EQ(job(ok).state, core::JobState::succeeded);
  EXPECT_EQ(job(bad).reason, core::EndReason::nonzero_exit);
  EXPECT_EQ(job(bad).exit_code, 4);
  EXPECT_EQ(job(orphan).reason, core::EndReason::interrupted);
  EXPECT_NE(job(orphan).error.find("--orphan-grace-s"), std::string::npos);
  EXPECT_EQ(job(lost).reason, core::EndReason::interrupted);
  EXPECT_EQ(exec_->released.size(), 4u);
}

TEST_F(OrchestratorTest, ARunningJobWithNoRunLeftIsInterruptedAndStaleRunsAreReleased) {
  core::JobId a = submit(1000);
  exec::Survivor stale = alive_run(a, 1000);
  stale.attempt = 7;  // not the job's attempt
  exec::Survivor unknown = alive_run(999, 1000);
  restart({stale, unknown});
  EXPECT_TRUE(exec_->adopted.empty());
  core::Job j = job(a);
  EXPECT_EQ(j.state, core::JobState::failed);
  EXPECT_EQ(j.reason, core::EndReason::interrupted);
  EXPECT_EQ(exec_->released, (std::vector<std::pair<core::JobId, int>>{{a, 7}, {999, 1}}));
}

}  // namespace
}  // namespace vramq::service
