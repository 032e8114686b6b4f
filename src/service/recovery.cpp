// Orchestrator: start-up. The first GPU reading, then recovery of the store and adoption of the
// runs the last server left behind (their supervisors kept them going):
//   - a run whose supervisor lives is re-attached: the job stays `running` with its start,
//     attempt, GPUs and timeout, and its reservation is held before the first scheduling pass;
//   - a run that ended while no server watched is finished from its supervisor's record, through
//     the same path as any exit (on_exit), so that its state, output and retries are as usual;
//   - a running job with neither a live supervisor nor a record ends `interrupted` (or queues
//     again while retries remain), as does one whose supervisor died unrecorded;
//   - a job the store still has `queued` whose run exists (the last server died between the
//     spawn and the save of the start) is adopted the same way: it never runs twice.

#include <malloc.h>

#include <filesystem>
#include <set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>

#include "core/run_outcome.hpp"
#include "service/orchestrator.hpp"
#include "util/proc_stat.hpp"

namespace vramq::service {
namespace asio = boost::asio;
using core::EndReason;
using core::Job;
using core::JobId;
using core::JobState;

namespace {

// A running job with neither a supervisor nor a record: its run is lost. What it may have left is
// killed (only if its PID still names the same process), then it is queued again (core::lost_run)
// or fails `interrupted`. The caller stores it.
core::LostRun end_lost_run(Job& j, bool requeue_on_restart, JobFiles& files) {
  if (j.pid > 0 && util::kill_group_if_same(static_cast<pid_t>(j.pid), j.pid_start_ticks)) {
    spdlog::warn("job {}: killed the process group {} left by the previous run", j.id, j.pid);
  }
  j.pid = 0;
  j.pid_start_ticks = 0;
  // Being preempted when the last server stopped: queued again, as its preemption would have.
  bool preempted = j.reason == EndReason::preempted;
  if (preempted) ++j.preemptions;
  core::LostRun lost = preempted ? core::LostRun::retry
                                 : core::lost_run({.requeue_on_restart = requeue_on_restart,
                                                   .requeued_before = j.restart_requeued,
                                                   .attempt = j.attempt - j.preemptions,
                                                   .max_retries = j.spec.max_retries});
  if (lost == core::LostRun::fail) {
    j.state = JobState::failed;
    j.reason = EndReason::interrupted;
    j.error = "vramq stopped while the job was running, and no record of its end was left";
    j.finished_at_ms = now_ms();
    return lost;
  }
  j.state = JobState::queued;
  files.keep_attempt_logs(j.id, j.attempt);
  j.attempt += 1;
  j.queued_at_ms = now_ms();
  j.started_at_ms = 0;
  if (lost == core::LostRun::requeue_once) {
    j.restart_requeued = true;
    j.error = fmt::format("its warm worker {} ended with the vramq restart; queued again (once)",
                          j.worker);
  } else if (preempted) {
    j.error = "preempted (its VRAM was being taken back when vramq stopped); queued again";
  } else {
    j.error = "interrupted by a vramq restart; queued again";
  }
  return lost;
}

// uploads/ made and checked; what the last server left there kept for the jobs that have not
// ended (`unfinished`), the rest removed.
core::Result<void> prepare_inputs(JobInputs& inputs, const std::vector<Job>& unfinished) {
  if (auto ready = inputs.prepare(); !ready) return ready.error();
  std::set<JobId> waiting;
  for (const Job& j : unfinished)
    waiting.insert(j.id);
  inputs.sweep(waiting);
  return {};
}

}  // namespace

core::Result<void> Orchestrator::start() {
  if (auto first = readings_->first(); !first) return first.error();
  admitting_.mb.assign(readings_->gpus().size(), 0);

  auto max_id = store_->max_id();
  if (!max_id) return max_id.error();
  next_id_ = *max_id + 1;
  auto max_worker = store_->max_worker_id();
  if (!max_worker) return max_worker.error();
  workers_->start(*max_worker);  // the last server's warm workers ended with it
  auto footprints = store_->load_footprints();
  if (!footprints) return footprints.error();
  for (const store::Store::FootprintRecord& f : *footprints)
    footprints_.add(f.task, f.bucket, {.peak_mb = f.peak_mb, .reserved_mb = f.reserved_mb});
  if (config_.fairshare_half_life_s > 0) {
    // Fair share starts from the use the ledger kept: days within ten half-lives (older ones
    // count for less than a thousandth), each as of its middle.
    constexpr std::int64_t kDayMs = 86'400'000;
    std::int64_t span =
        std::min<std::int64_t>(3650, 10 * config_.fairshare_half_life_s / 86'400 + 1);
    auto usage = store_->load_usage(now_ms() / kDayMs - span);
    if (!usage) return usage.error();
    for (const store::UsageRow& u : *usage) {
      owners_.used(u.owner, static_cast<double>(u.reserved_mib_s),
                   std::min(u.day * kDayMs + kDayMs / 2, now_ms()));
    }
  }
  auto jobs = store_->load_unfinished();
  if (!jobs) return jobs.error();
  if (auto ready = prepare_inputs(*inputs_, *jobs); !ready) return ready.error();

  // The runs the last server left, by job (a job has at most one current run: its attempt's).
  std::map<JobId, exec::Survivor> runs;
  for (exec::Survivor& s : runs_->executor().survivors()) {
    auto [it, fresh] = runs.try_emplace(s.job, s);
    if (!fresh && s.attempt > it->second.attempt) std::swap(it->second, s);
    if (!fresh) runs_->executor().release(s.job, s.attempt);  // an older attempt's leftovers
  }
  std::int64_t adopted = 0;
  std::int64_t requeued = 0;
  std::int64_t interrupted = 0;
  // States recovery settled, for the dependencies of later jobs (a dependency's id is smaller
  // than its dependent's, so it is settled first).
  std::map<JobId, JobState> recovered;
  for (Job& j : *jobs) {
    auto found = runs.find(j.id);
    if (found != runs.end()) {
      exec::Survivor run = std::move(found->second);
      runs.erase(found);
      if (run.attempt == j.attempt && run.started) {
        recovered[j.id] = JobState::running;
        adopt(std::move(j), std::move(run));
        ++adopted;
        continue;
      }
      // Another attempt's, or one that never got going: nothing of it counts.
      runs_->executor().release(run.job, run.attempt);
    }
    if (j.state == JobState::running) {
      core::LostRun lost = end_lost_run(j, workers_->requeues_on_restart(j), files_);
      store_->save(j);
      if (lost == core::LostRun::fail) {
        ++interrupted;
        recovered[j.id] = j.state;
        continue;
      }
      ++requeued;
    }
    recovered[j.id] = j.state;
    if (auto doomed = waiting_.recover(j, recovered)) {
      recovered[j.id] = *doomed;
      continue;
    }
  }
  // Runs of jobs that have ended (their final state was stored, the files not yet removed) or
  // that the store does not know.
  for (const auto& [id, run] : runs)
    runs_->executor().release(id, run.attempt);
  // Recovery loaded every row as a whole Job and kept it packed: hand the pages freed by the
  // unpacked copies back to the system instead of carrying them for the life of the process.
  jobs->clear();
  jobs->shrink_to_fit();
  malloc_trim(0);
  spdlog::info(
      "recovered {} queued jobs ({} re-queued after an interrupted run, {} waiting for other "
      "jobs or a retry delay), {} running jobs adopted from their supervisors, {} interrupted",
      queue_.size() + waiting_.parked().size(), requeued, waiting_.parked().size(), adopted,
      interrupted);
  schedule_soon();
  // Each poll: a reading, the running jobs' progress, and (hourly) the store's expired keys.
  readings_->poll(std::chrono::milliseconds(config_.gpu_poll_ms), [this] {
    read_progress();
    if (std::optional<std::int64_t> before = keys_.expiry_due(now_ms())) {
      store_->expire_keys(*before);
    }
  });
  waiting_.arm();
  retention_.start(std::chrono::seconds(5));  // not in the way of the start itself
  readings_->request();                       // the adopted jobs' use, measured
  return {};
}

void Orchestrator::adopt(Job job, exec::Survivor run) {
  JobId id = job.id;
  // Warm workers end with their server: a survivor is always the executor's kind of run.
  RunKind& kind = *runs_;
  kind.adopt(id, run);  // its end, if it has come, is posted: it comes after this
  std::string dir = files_.dir(id);
  if (!kind.running(id)) {  // still in a cluster's queue: it stays queued, the cluster's to start
    job.state = JobState::queued;
    Run r{.kind = &kind, .reservation_mb = job.spec.vram_mb, .job_dir = dir};
    active_.insert_or_assign(id, std::move(job));
    running_.emplace(id, std::move(r));
    return;
  }
  bool start_unsaved = job.state == JobState::queued;
  // Stored as queued, it had started again after a preemption (its start was not saved): that
  // preemption is over.
  if (start_unsaved && job.reason == EndReason::preempted) job.reason = EndReason::none;
  job.state = JobState::running;
  // The start as the run knows it (the store lacks it if the last server died before saving).
  if (job.started_at_ms == 0 || start_unsaved) {
    job.started_at_ms = run.started_at_ms > 0 ? run.started_at_ms : now_ms();
  }
  if (job.gpus.empty() || start_unsaved) job.gpus = run.gpus;
  std::erase_if(job.gpus,
                [&](int g) { return g < 0 || g >= static_cast<int>(readings_->gpus().size()); });
  job.gpu = job.gpus.empty() ? std::nullopt : std::optional<int>(job.gpus.front());
  job.pid = run.supervisor.pid;
  job.pid_start_ticks = run.supervisor.start_ticks;
  if (start_unsaved) store_->save(job);
  Run r{.kind = &kind, .gpus = job.gpus, .reservation_mb = job.spec.vram_mb, .job_dir = dir};
  // Its timeout counts from its real start, not from this adoption.
  r.arm_timeout(ioc_, job.started_at_ms, job.spec.timeout_s,
                [this, id] { stop_job(id, EndReason::timeout); });
  if (run.alive) {
    spdlog::info("job {}: adopted (attempt {}, running since {} ms ago on GPU {}, supervisor {})",
                 id, job.attempt, now_ms() - job.started_at_ms, fmt::join(job.gpus, ","),
                 run.supervisor.pid);
  } else {
    spdlog::info("job {}: its run ended while vramq was away; finishing it from its record", id);
  }
  bool preempting = job.reason == EndReason::preempted;
  active_.insert_or_assign(id, std::move(job));
  running_.emplace(id, std::move(r));
  // The last server was taking its VRAM back when it stopped: it is stopped again (its end,
  // whenever it came, is a preemption: queued again).
  if (preempting) {
    running_.at(id).stop_detail = "preempted: its VRAM was borrowed and was being taken back";
    stop_job(id, EndReason::preempted);
  }
}

}  // namespace vramq::service
