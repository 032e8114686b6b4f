// Jobs on a cluster (--executor slurm), with a fake executor in the cluster's place: handed over
// at once and queued with the cluster's reason, running where the cluster says, ended through
// the same door as local runs; cancels before and after the cluster took them; ends the
// cluster saw and vramq did not; adoption of runs still in the cluster's queue.
#include <signal.h>

#include "service_harness.hpp"

namespace vramq::service {
namespace {
using core::EndReason;
using core::JobState;
using Phase = exec::ClusterRunState::Phase;

// The uuid the simulated GPU 0 reads as (gpu/sim_gpu_source.cpp).
constexpr std::string_view kGpu0 = "GPU-5a1a0000-0000-4000-8000-000000000000";

class ClusterRuns : public testing::ServiceTest {
 protected:
  void configure() override { cluster_ = true; }
  exec::ClusterRunState pending(std::int64_t slurm_id, std::string reason = "Resources") {
    return {.phase = Phase::pending,
            .cluster_id = slurm_id,
            .state = "PENDING",
            .reason = std::move(reason)};
  }
  exec::ClusterRunState running(std::int64_t slurm_id) {
    return {.phase = Phase::running,
            .cluster_id = slurm_id,
            .state = "RUNNING",
            .nodes = "node1",
            .gpus = {std::string(kGpu0)}};
  }
  JobView view(core::JobId id) {
    auto v = run(o_->get(id));
    EXPECT_TRUE(v && *v);
    return **v;
  }
};

TEST_F(ClusterRuns, QueuedJobsGoToTheClusterAtOnceAndWaitThereWithItsReason) {
  // More than one GPU could hold: the cluster, not vramq, decides what waits.
  core::JobId a = submit(20000);
  core::JobId b = submit(20000);
  EXPECT_TRUE(exec_->runs(a));
  EXPECT_TRUE(exec_->runs(b));
  exec_->report(b, pending(71));
  settle();
  JobView v = view(b);
  EXPECT_EQ(v.job.state, JobState::queued);
  EXPECT_EQ(v.pending_reason, core::PendingReason::cluster);
  ASSERT_TRUE(v.cluster);
  EXPECT_EQ(v.cluster->reason, "Resources");
  EXPECT_EQ(v.cluster->cluster_id, 71);
  EXPECT_EQ(o_->health().running, 0U) << "nothing runs until the cluster says so";
}

TEST_F(ClusterRuns, AJobRunsWhereTheClusterPutsItAndEndsAsAnyRun) {
  core::JobId a = submit(4000);
  exec_->report(a, pending(72));
  exec_->report(a, running(72));
  settle();
  core::Job j = job(a);
  EXPECT_EQ(j.state, JobState::running);
  EXPECT_EQ(j.gpus, std::vector<int>{0});
  EXPECT_GT(j.started_at_ms, 0);
  EXPECT_EQ(o_->health().running, 1U);
  exec_->exit(a, 0);
  settle();
  EXPECT_EQ(job(a).state, JobState::succeeded);
  EXPECT_EQ(exec_->released, (std::vector<std::pair<core::JobId, int>>{{a, 1}}));
}

TEST_F(ClusterRuns, ARunThatEndedBetweenTwoLooksRanAllTheSame) {
  core::JobId a = submit(4000);
  exec_->report(a, pending(73));
  exec_->exit(a, 0);  // never seen running
  settle();
  core::Job j = job(a);
  EXPECT_EQ(j.state, JobState::succeeded);
  EXPECT_GT(j.started_at_ms, 0) << "it ran: it has a start";
}

TEST_F(ClusterRuns, EndsTheClusterCausedAreFailures) {
  core::JobId a = submit(4000);
  exec_->report(a, running(74));
  exec_->exit_with(a, {.lost = "Slurm ended job 74 as PREEMPTED"});
  settle();
  core::Job j = job(a);
  EXPECT_EQ(j.state, JobState::failed);
  EXPECT_EQ(j.reason, EndReason::interrupted);
  EXPECT_EQ(j.error, "Slurm ended job 74 as PREEMPTED");
}

TEST_F(ClusterRuns, CancelWhileInTheClustersQueueOrBeforeItAnswered) {
  core::JobId a = submit(4000);  // sbatch not answered yet: no state reported
  core::JobId b = submit(4000);
  exec_->report(b, pending(75));
  settle();
  for (core::JobId id : {a, b}) {
    auto r = run(o_->cancel(id, Caller{}));
    EXPECT_EQ(r->outcome, CancelOutcome::stopping) << id;  // the cluster's to stop
    EXPECT_NE(std::ranges::find(exec_->signals, std::make_pair(id, SIGTERM)), exec_->signals.end())
        << id;
    exec_->exit_with(id, {.signal = SIGTERM});
  }
  settle();
  for (core::JobId id : {a, b}) {
    EXPECT_EQ(job(id).state, JobState::cancelled) << id;
    EXPECT_EQ(job(id).reason, EndReason::cancelled) << id;
  }
}

TEST_F(ClusterRuns, AnSbatchThatFailsForAHostReasonIsTriedAgainLater) {
  exec_->fail_next = exec::SpawnError{EAGAIN, "sbatch: Socket timed out"};
  core::JobId a = submit(4000);
  EXPECT_FALSE(exec_->runs(a));
  EXPECT_EQ(view(a).pending_reason, core::PendingReason::start_failed);
  advance(std::chrono::milliseconds(1100));
  EXPECT_TRUE(exec_->runs(a));
  EXPECT_EQ(job(a).attempt, 1);
}

TEST_F(ClusterRuns, RunsLeftInTheClustersQueueAreAdoptedAsQueued) {
  core::JobId a = submit(4000);
  core::JobId b = submit(4000);
  exec_->report(b, running(77));
  settle();
  // As the Slurm executor reports a run it finds pending: started (handed over) and alive.
  exec::Survivor waiting{
      .job = a, .attempt = 1, .started = true, .alive = true, .cluster = pending(76, "Priority")};
  exec::Survivor going{.job = b,
                       .attempt = 1,
                       .started = true,
                       .alive = true,
                       .started_at_ms = job(b).started_at_ms,
                       .cluster = running(77)};
  restart({waiting, going});
  EXPECT_TRUE(exec_->started.empty()) << "nothing is submitted twice";
  JobView va = view(a);
  EXPECT_EQ(va.job.state, JobState::queued);
  EXPECT_EQ(va.pending_reason, core::PendingReason::cluster);
  EXPECT_EQ(va.cluster->reason, "Priority");
  EXPECT_EQ(job(b).state, JobState::running);
  EXPECT_EQ(job(b).gpus, std::vector<int>{0});
  exec_->report(a, running(76));
  settle();
  EXPECT_EQ(job(a).state, JobState::running);
  exec_->exit(a, 2);
  exec_->exit(b, 0);
  settle();
  EXPECT_EQ(job(a).exit_code, 2);
  EXPECT_EQ(job(b).state, JobState::succeeded);
}

TEST_F(ClusterRuns, ItsPeakIsWhatItsBatchStepMeasuredAndItsRequestSaysWhatItNeeds) {
  SubmitRequest req = request(4000);
  req.timeout_s = 600;
  req.priority = 7;
  core::JobId a = submit(std::move(req));
  ASSERT_EQ(exec_->started.size(), 1U);
  const exec::LaunchSpec& spec = exec_->started.front();
  EXPECT_EQ(spec.needs.vram_mb, 4000);
  EXPECT_EQ(spec.needs.gpus, 1);
  EXPECT_EQ(spec.needs.timeout_s, 600);
  EXPECT_EQ(spec.needs.priority, 7);
  EXPECT_EQ(spec.needs.job_dir, job_dir(a));
  EXPECT_TRUE(env_has(a, "VRAMQ_MEASURE_MS=10000"));
  exec_->report(a, running(75));
  settle();
  write_job_file(a, "vram-peak-mb", "3712\n");
  exec_->exit(a, 0);
  settle();
  EXPECT_EQ(job(a).peak_vram_mb, 3712);
}

TEST_F(ClusterRuns, AJobNoGpuOfTheClusterCouldHoldIsRefused) {
  auto r = run(o_->submit(request(90'000)));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().field, "vram_mb");
  EXPECT_TRUE(exec_->started.empty());
}

class ClusterWorkers : public ClusterRuns {
 protected:
  void configure() override {
    ClusterRuns::configure();
    catalog_ = std::string(testing::kRunCatalog) + R"(
[tasks.w]
argv = ["/bin/true"]
[tasks.w.worker]
argv = ["/bin/true", "--worker"]
[tasks.w.vram]
base_mb = 1000
)";
  }
};

TEST_F(ClusterWorkers, AWorkerTaskIsRefusedBecauseWorkersRunOnTheServersHost) {
  auto r = run(o_->submit(SubmitRequest{.task = "w"}));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().field, "task");
  EXPECT_NE(r.error().detail.find("this server sends jobs to Slurm"), std::string::npos)
      << r.error().detail;
  EXPECT_TRUE(exec_->started.empty());
}

}  // namespace
}  // namespace vramq::service
