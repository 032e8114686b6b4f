// Orchestrator: the one door for job ends. Every run's end comes through end_run (a process's
// exit, a worker's answer, stop or crash, a cluster's end, a run recovery found ended), and every
// job's end through finish (those, and a cancel before the start, a dependency that failed, a
// start that failed for the job's own reason). In this order:
//   1. end_run: the Run goes (its reservation is free; what it was last seen to use stays
//      counted: GpuReadings::departed, called by the kind), its run time is noted;
//   2. off the loop: its stdout is read (its tail becomes `output`), or a worker's answer is
//      written as its stdout.log; the tail of the log named as evidence, and a cluster's peak;
//   3. out-of-memory recognition (core::relabel_gpu_oom), once;
//   4. finish: the retry decision (core::should_retry; a retry after an OOM asks for more),
//      or the final state, with metrics, learned footprints, the store (durable before the
//      executor forgets the run), the event, the waiters, the log followers and dependents.
// Recovery's own decision about a run the last server left with no record is core::lost_run's.
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <algorithm>
#include <filesystem>

#include "core/footprints.hpp"
#include "core/run_outcome.hpp"
#include "service/job_paths.hpp"
#include "service/orchestrator.hpp"
#include "service/params_json.hpp"
#include "util/untrusted_files.hpp"

namespace vramq::service {
using core::EndReason;
using core::Job;
using core::JobId;
using core::JobState;

namespace {

// What the door reads and writes off the loop.
struct EndFiles {
  std::string stdout_path;
  std::optional<std::string> result;  // a worker's answer: written as the stdout
  std::string evidence_log;           // read when the run may have died of an OOM
  std::string peak_file;
  std::size_t limit = 0;  // of the output kept on the job
};

struct EndRead {
  std::string text;
  bool truncated = false;
  std::string evidence;                 // the evidence log's tail
  std::optional<std::int64_t> peak_mb;  // a cluster's run: its batch step's measured peak
};

// Off the loop.
EndRead read_end(const EndFiles& f) {
  EndRead out;
  if (f.result) {
    // The job's user owns the directory (it may have put a link there): never followed. A
    // full disk or a refused file loses it from the log; the job keeps its tail.
    util::write_untrusted(f.stdout_path, *f.result);
    out.truncated = f.result->size() > f.limit;
    out.text = out.truncated ? f.result->substr(f.result->size() - f.limit) : *f.result;
  } else {
    std::optional<std::int64_t> size = util::regular_size(f.stdout_path);
    out.text = util::read_tail(f.stdout_path, f.limit);
    out.truncated = size && static_cast<std::size_t>(*size) > f.limit;
  }
  if (!f.evidence_log.empty()) out.evidence = util::read_tail(f.evidence_log, 16 << 10);
  if (!f.peak_file.empty()) out.peak_mb = util::read_mb_file(f.peak_file);
  return out;
}

// Records a finished run's peak in the learned footprints; the sample to store with its row.
std::optional<store::Store::FootprintRecord> learn_from(const Job& job,
                                                        const core::TaskCatalog& catalog,
                                                        core::Footprints& footprints) {
  // Only whole successful runs with a reading teach: a failed run may have died before its peak.
  if (job.state != JobState::succeeded || job.spec.task.empty() || !job.peak_vram_mb) {
    return std::nullopt;
  }
  const core::TaskDef* task = catalog.find(job.spec.task);
  if (task == nullptr || !task->learn) return std::nullopt;
  store::Store::FootprintRecord f{
      .task = task->name,
      .bucket = core::footprint_bucket(task->vram, params_from_json(job.spec.params_json)),
      .peak_mb = *job.peak_vram_mb,
      .reserved_mb = job.spec.vram_mb};
  footprints.add(f.task, f.bucket, {.peak_mb = f.peak_mb, .reserved_mb = f.reserved_mb});
  return f;
}

}  // namespace

void Orchestrator::record_usage(JobId id, Run& r, bool preempted) {
  const Job& job = active_.at(id);
  if (job.started_at_ms <= 0) return;  // it never ran
  std::int64_t end_ms = std::max(now_ms(), job.started_at_ms);
  r.account_measured(end_ms, {});
  double seconds = static_cast<double>(end_ms - job.started_at_ms) / 1000.0;
  int gpus = std::max(1, job.spec.gpus);
  store_->add_usage(
      {.day = end_ms / 86'400'000,
       .owner = job.spec.owner,
       .task = job.spec.task,
       .runs = 1,
       .reserved_mib_s = std::llround(static_cast<double>(job.spec.vram_mb * gpus) * seconds),
       .measured_mib_s = std::llround(r.measured_mib_s),
       .gpu_s = std::llround(gpus * seconds),
       .preempted = preempted ? 1 : 0});
}

void Orchestrator::end_run(JobId id, RunEnd end) {
  auto it = running_.find(id);
  if (it == running_.end()) return;
  EndFiles files{.stdout_path = log_path(it->second.job_dir, "stdout"),
                 .result = std::move(end.result),
                 .evidence_log = core::failed_by_itself(end.outcome.reason) || end.quote_evidence
                                     ? std::move(end.evidence_log)
                                     : std::string{},
                 .peak_file = std::move(end.peak_file),
                 .limit = static_cast<std::size_t>(config_.output_limit_bytes)};
  record_usage(id, it->second, end.outcome.reason == EndReason::preempted);
  running_.erase(it);  // its reservation is free from now on; this also cancels its timers
  if (end.outcome.reason != EndReason::spawn_failed) waiting_.host_ok();
  const Job& job = active_.at(id);
  if (job.started_at_ms > 0) {
    run_times_.add(job.spec, static_cast<double>(now_ms() - job.started_at_ms) / 1000.0,
                   end.outcome.state == JobState::succeeded);
    owners_.ran(job.spec.owner, job.spec.vram_mb * std::max(1, job.spec.gpus), job.started_at_ms,
                now_ms());
  }
  ++ending_.reading;
  readings_->request();
  schedule_soon();
  files_.worker().async_run(
      [files = std::move(files)] { return read_end(files); },
      [this, id, end = std::move(end)](EndRead read) mutable {
        --ending_.reading;
        Job& job = active_.at(id);
        if (read.peak_mb) job.peak_vram_mb = std::max(job.peak_vram_mb.value_or(0), *read.peak_mb);
        core::RunOutcome& outcome = end.outcome;
        bool oom =
            core::relabel_gpu_oom(outcome, read.evidence, job.spec.vram_mb, job.peak_vram_mb);
        if (!oom && end.quote_evidence && outcome.reason == EndReason::worker_crashed &&
            !read.evidence.empty()) {
          std::string_view t = read.evidence;
          if (t.size() > 2000) t = t.substr(t.size() - 2000);
          outcome.error += fmt::format("; its log ends: {}", t);
        }
        finish(id, outcome.state, outcome.reason, std::move(outcome.error),
               {.text = std::move(read.text), .truncated = read.truncated}, end.ran_attempt);
      });
}

void Orchestrator::finish(JobId id, JobState state, EndReason reason, std::string error,
                          Output output, std::optional<int> ran_attempt) {
  auto it = active_.find(id);
  if (it == active_.end()) {
    // A job that ends without having run (cancelled while queued) comes out of the queue.
    std::optional<Job> queued = queued_job(id);
    if (!queued) return;
    queue_.erase(id);
    waiting_.erase(id);
    it = active_.emplace(id, std::move(*queued)).first;
  }
  Job& job = it->second;
  // A preempted run is not the job's failure: it goes back to the queue, whatever its retries.
  bool preempted = reason == EndReason::preempted;
  bool retry = (preempted || core::should_retry(state, reason, job.attempt - job.preemptions,
                                                job.spec.max_retries)) &&
               core::can_transition(job.state, JobState::queued);
  if (!retry) inputs_->discard(id);  // its uploads if it never started (or could not move them)
  // Once this save is durable, the executor may forget the run (its exit record goes with it).
  auto saved = [this, id, ran_attempt](const core::Result<void>& r) {
    if (!r) spdlog::error("job {}: new state not stored: {}", id, r.error().message);
    if (r && ran_attempt) runs_->executor().release(id, *ran_attempt);
  };
  if (retry) {
    spdlog::info("job {}: attempt {} ended ({}); queued again", id, job.attempt,
                 core::to_string(reason));
    if (reason == EndReason::gpu_oom) ++metrics_.gpu_oom_retries;
    if (reason == EndReason::gpu_oom || reason == EndReason::vram_exceeded) {
      // It needed more than it reserved: ask for more next time (1.5x, or more than it was
      // seen to use), as much as the largest GPU can give.
      std::int64_t before = job.spec.vram_mb;
      job.spec.vram_mb = core::grown_reservation_mb(std::max(before, job.peak_vram_mb.value_or(0)),
                                                    readings_->largest_mb(config_.vram_buffer_mb));
      error += fmt::format("; reservation {} -> {} MiB", before, job.spec.vram_mb);
    }
    if (preempted) {
      ++job.preemptions;
      ++metrics_.preemptions[job.spec.owner];
      job.reason = reason;  // shown while it waits; cleared when it starts again
      job.error = fmt::format("attempt {}: {}; queued again", job.attempt, error);
    } else {
      job.error = fmt::format("attempt {}: {}; retrying", job.attempt, error);
    }
    job.warnings.push_back(job.error);  // kept after a later attempt succeeds and clears `error`
    job.state = JobState::queued;
    files_.keep_attempt_logs(id,
                             job.attempt);  // each attempt's logs are kept: attempt-N.stdout.log
    job.attempt += 1;
    job.queued_at_ms = now_ms();
    job.output = std::move(output.text);
    job.output_truncated = output.truncated;
    job.not_before_ms = preempted ? 0 : WaitingJobs::retry_at_ms(job, now_ms());
    job.started_at_ms = 0;  // not started in this attempt (fair share and usage count from it)
    store_->save(job, saved);
    if (job.not_before_ms > 0) {
      waiting_.park_delayed(job);
    } else {
      enqueue(job);
    }
    active_.erase(it);
    return;
  }
  if (!core::can_transition(job.state, state)) {
    spdlog::error("job {}: refused transition {} -> {}", id, core::to_string(job.state),
                  core::to_string(state));
    return;
  }
  job.state = state;
  job.reason = reason;
  job.error = std::move(error);
  job.output = std::move(output.text);
  job.output_truncated = output.truncated;
  job.finished_at_ms = now_ms();
  spdlog::info("job {}: {}{}{}", id, core::to_string(state), job.error.empty() ? "" : ": ",
               job.error);
  ++metrics_.ended[{job.spec.task, std::string(core::to_string(state)),
                    reason == EndReason::none ? "" : std::string(core::to_string(reason))}];
  if (job.started_at_ms > 0) {
    metrics_.observe_run(job.spec.task,
                         static_cast<double>(job.finished_at_ms - job.started_at_ms) / 1000.0);
  }
  std::optional<store::Store::FootprintRecord> footprint = learn_from(job, catalog_, footprints_);
  Job& settled = ending_.settling.insert_or_assign(id, std::move(job)).first->second;
  active_.erase(it);
  queue_.erase(id);
  store_->save(
      settled,
      [this, id, saved](const core::Result<void>& r) {
        saved(r);
        ending_.settling.erase(id);
      },
      std::nullopt, std::move(footprint), store::Store::SaveMode::until_durable);
  publish_job(settled);
  waiters_.notify(id);
  files_.watcher().forget(id);
  schedule_soon();
  waiting_.on_end(id, state == JobState::succeeded);
}

}  // namespace vramq::service
