// Orchestrator: running jobs. A scheduling decision becomes a run (launch, through the
// executor); GPU readings measure it and --vram-policy guards it (guard_vram); timeouts, cancels
// and enforcement stop it (SIGTERM, SIGKILL after the grace); its exit becomes the job's end or a
// retry (on_exit, finish; the decisions themselves are core/run_outcome's).
#include <signal.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <algorithm>
#include <filesystem>

#include "core/footprints.hpp"
#include "core/run_outcome.hpp"
#include "service/job_environment.hpp"
#include "service/job_paths.hpp"
#include "service/orchestrator.hpp"
#include "service/params_json.hpp"
#include "util/untrusted_files.hpp"

namespace vramq::service {
namespace asio = boost::asio;
using core::EndReason;
using core::Job;
using core::JobId;
using core::JobState;

void Orchestrator::launch(Job queued, const core::StartDecision& start) {
  std::vector<int> gpus = start.all_gpus();
  JobId id = queued.id;
  queue_.erase(id);
  Job& job = active_.insert_or_assign(id, std::move(queued)).first->second;
  std::string dir = job_dir(id);
  if (!make_job_dir(id, dir)) return;
  std::error_code ec;
  std::vector<std::string> uuids;
  uuids.reserve(gpus.size());
  for (int g : gpus)
    uuids.push_back(sample_.gpus.at(g).uuid);
  std::vector<std::pair<std::string, std::string>> extra = run_environment(job, dir);
  // Every GPU of the job, in index order (CUDA numbers them 0..N-1 inside the job).
  extra.emplace_back("CUDA_VISIBLE_DEVICES", fmt::format("{}", fmt::join(uuids, ",")));
  extra.emplace_back("VRAMQ_GPU", std::to_string(gpus.front()));
  extra.emplace_back("VRAMQ_GPUS", fmt::format("{}", fmt::join(gpus, ",")));
  std::string sim_file;
  if (gpu_kind_ == "sim") {
    sim_file = dir + "/sim-vram-mb";
    std::filesystem::remove(sim_file, ec);  // a retry starts without its last report
    extra.emplace_back("VRAMQ_SIM_VRAM_FILE", sim_file);
  }
  exec::Launched launched;
  if (worker_task(job.spec) != nullptr) {
    // A warm worker's run: an idle worker, or a new one started for it.
    if (!start_on_worker(id, start.worker, gpus.front(), extra)) return;
    const Worker& w = workers_.at(job.worker);
    launched = {.pid = static_cast<pid_t>(w.pid), .start_ticks = w.pid_start_ticks};
  } else {
    std::optional<exec::Launched> started = start_run(job, dir, extra, gpus);
    if (!started) return;
    launched = *started;
    job.worker = 0;
  }
  job.state = JobState::running;
  job.gpu = gpus.front();
  job.gpus = gpus;
  job.started_at_ms = now_ms();
  observe_wait(job);
  job.pid = launched.pid;
  job.pid_start_ticks = launched.start_ticks;
  job.exit_code.reset();
  job.signal.reset();
  store_->save(job);
  Running r{.gpus = gpus, .reservation_mb = job.spec.vram_mb, .job_dir = dir, .worker = job.worker};
  // A run on a warm worker carries all the worker holds (more than the run's reservation when
  // the model stays larger): the ledger never drops below it, and enforcement judges against it.
  if (job.worker != 0)
    r.reservation_mb = std::max(r.reservation_mb, workers_.at(job.worker).held_mb);
  arm_timeout(id, r, job.started_at_ms, job.spec.timeout_s);
  running_.emplace(id, std::move(r));
  log_watcher_.wake(id);  // followers of a queued job can now watch its directory
  publish_job(job);
  spdlog::info("job {}: started on GPU {} ({} {}, {} MiB reserved{})", id, fmt::join(gpus, ","),
               job.worker != 0 ? "worker" : "pid", job.worker != 0 ? job.worker : launched.pid,
               job.spec.vram_mb, gpus.size() > 1 ? " on each" : "");
  if (job.worker != 0) {
    Worker& w = workers_.at(job.worker);
    if (w.state == core::WorkerState::busy) begin_run(w);  // warm; a new one runs it once ready
  }
}

std::vector<std::pair<std::string, std::string>> Orchestrator::run_environment(
    const Job& job, const std::string& dir) const {
  std::vector<std::pair<std::string, std::string>> env = job.spec.env;
  env.emplace_back("VRAMQ_JOB_ID", std::to_string(job.id));
  env.emplace_back("VRAMQ_VRAM_MB", std::to_string(job.spec.vram_mb));
  env.emplace_back("VRAMQ_JOB_DIR", dir);
  // A retry starts without its last attempt's reports.
  std::error_code ec;
  std::filesystem::remove(progress_path(dir), ec);
  env.emplace_back("VRAMQ_PROGRESS_FILE", progress_path(dir));
  return env;
}

std::optional<exec::Launched> Orchestrator::start_run(
    const Job& job, const std::string& dir,
    const std::vector<std::pair<std::string, std::string>>& extra, std::vector<int> gpus) {
  JobId id = job.id;
  exec::LaunchSpec spec{.job = id,
                        .argv = job.spec.argv,
                        .cwd = job.spec.cwd,
                        .env = job_environment(extra),
                        .stdout_path = log_path(dir, "stdout"),
                        .stderr_path = log_path(dir, "stderr"),
                        .attempt = job.attempt,
                        .gpus = std::move(gpus),
                        .cluster = {.id = id,
                                    .vram_mb = job.spec.vram_mb,
                                    .gpus = job.spec.gpus,
                                    .timeout_s = job.spec.timeout_s,
                                    .priority = job.spec.priority,
                                    .job_dir = dir}};
  auto started =
      executor_->start(spec, [this, id](exec::ExitStatus st) { on_exit(id, std::move(st)); });
  if (started) return *started;
  if (core::is_host_error(started.error().errno_value)) {
    requeue_unstarted(id, started.error().message, std::nullopt);
  } else {
    finish(id, JobState::failed, EndReason::spawn_failed, started.error().message, {});
  }
  return std::nullopt;
}

void Orchestrator::observe_wait(const Job& job) {
  std::int64_t since = std::max(job.queued_at_ms, job.submitted_at_ms);
  metrics_.observe_wait(
      job.spec.task,
      static_cast<double>(std::max<std::int64_t>(0, job.started_at_ms - since)) / 1000.0);
}

void Orchestrator::arm_timeout(JobId id, Running& r, std::int64_t started_at_ms,
                               std::int64_t timeout_s) {
  if (timeout_s <= 0) return;
  std::int64_t left_ms = started_at_ms + timeout_s * 1000 - now_ms();
  r.timeout = std::make_unique<ServiceTimer>(
      ioc_, std::chrono::milliseconds(std::max<std::int64_t>(left_ms, 0)));
  r.timeout->async_wait([this, id](const boost::system::error_code& e) {
    if (!e) stop_job(id, EndReason::timeout);
  });
}

bool Orchestrator::make_job_dir(JobId id, const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (!ec) return true;
  std::string why = fmt::format("cannot create the job directory {}: {}", dir, ec.message());
  if (core::is_host_error(ec.value())) {
    requeue_unstarted(id, std::move(why), std::nullopt);
  } else {
    finish(id, JobState::failed, EndReason::spawn_failed, std::move(why), {});
  }
  return false;
}

void Orchestrator::stop_job(JobId id, EndReason why) {
  auto it = running_.find(id);
  if (it == running_.end() || it->second.stop_reason != EndReason::none) return;
  it->second.stop_reason = why;
  if (it->second.worker != 0) {
    stop_worker_run(id, it->second);
    return;
  }
  executor_->signal_group(id, SIGTERM);
  it->second.kill =
      std::make_unique<ServiceTimer>(ioc_, std::chrono::seconds(config_.kill_grace_s));
  it->second.kill->async_wait([this, id](const boost::system::error_code& e) {
    if (!e) executor_->signal_group(id, SIGKILL);
  });
}

void Orchestrator::on_exit(JobId id, exec::ExitStatus status) {
  auto it = running_.find(id);
  if (it == running_.end()) return;
  EndReason stop = it->second.stop_reason;
  std::string stop_detail = std::move(it->second.stop_detail);
  // A cluster's run that ended between two looks at the cluster's queue was never seen
  // running: it ran all the same (unless it was cancelled there, or never submitted).
  bool ran_unseen = it->second.cluster_pending && it->second.cluster &&
                    stop != EndReason::cancelled && status.spawn_error.empty() &&
                    status.lost.empty();
  if (!status.lost.empty()) spdlog::warn("job {}: {}", id, status.lost);
  std::string stdout_path = log_path(it->second.job_dir, "stdout");
  std::string stderr_path = log_path(it->second.job_dir, "stderr");
  // What it was last seen to use stays counted until a reading taken after its exit: a real
  // driver frees a dead process's memory only a moment later (then it shows as foreign), and
  // a job started into that memory at once could run out of it.
  for (const auto& [g, mb] : it->second.measured_mb)
    departed_mb_[g] += mb;
  if (!it->second.measured_mb.empty()) departed_until_sample_ = samples_started_ + 1;
  running_.erase(it);  // its reservation is free from now on; this also cancels its timers
  if (!status.spawn_error.empty() && core::is_host_error(status.spawn_errno) &&
      stop == EndReason::none) {
    // Its supervisor could not start it for a host reason (its logs could not be opened on a
    // full disk, no processes left): nothing ran.
    requeue_unstarted(id, status.spawn_error, active_.at(id).attempt);
    schedule_soon();
    return;
  }
  if (status.spawn_error.empty()) host_failures_ = 0;  // the host could start a job again
  Job& job = active_.at(id);
  if (ran_unseen) {
    job.state = JobState::running;
    job.started_at_ms = now_ms();
  }
  job.exit_code = status.exit_code;
  job.signal = status.signal;
  if (job.started_at_ms > 0) note_run_time(job, status.exit_code == 0);

  core::RunOutcome outcome = core::run_outcome(
      {.why = stop, .detail = std::move(stop_detail), .timeout_s = job.spec.timeout_s}, status);
  int ran_attempt = job.attempt;
  ++finishing_;
  request_sample();
  schedule_soon();
  // The tail of stderr tells a CUDA out-of-memory death from any other failure.
  bool failed_by_itself = core::failed_by_itself(outcome.reason);
  struct Read {
    Output output;
    std::string err_tail;                 // failed on its own: what it said last
    std::optional<std::int64_t> peak_mb;  // a cluster's run: its batch step's measured peak
  };
  file_worker_.async_run(
      [stdout_path, stderr_path, failed_by_itself, cluster = cluster_,
       peak_path = measured_peak_path(job_dir(id)),
       limit = static_cast<std::size_t>(config_.output_limit_bytes)] {
        std::string err_tail = failed_by_itself ? util::read_tail(stderr_path, 16 << 10) : "";
        std::error_code ec;
        auto size = std::filesystem::file_size(stdout_path, ec);
        return Read{.output = {.text = util::read_tail(stdout_path, limit),
                               .truncated = !ec && size > limit},
                    .err_tail = std::move(err_tail),
                    .peak_mb = cluster ? util::read_mb_file(peak_path) : std::nullopt};
      },
      [this, id, outcome, ran_attempt](Read read) mutable {
        --finishing_;
        if (read.peak_mb) {
          Job& job = active_.at(id);
          job.peak_vram_mb = std::max(job.peak_vram_mb.value_or(0), *read.peak_mb);
        }
        const Job& job = active_.at(id);
        core::relabel_gpu_oom(outcome, read.err_tail, job.spec.vram_mb, job.peak_vram_mb);
        finish(id, outcome.state, outcome.reason, outcome.error, std::move(read.output),
               ran_attempt);
      });
}

void Orchestrator::note_run_time(const Job& job, bool succeeded) {
  double ran_s = static_cast<double>(now_ms() - job.started_at_ms) / 1000.0;
  mean_run_s_ = 0.9 * mean_run_s_ + 0.1 * std::max(ran_s, 0.001);
  if (!succeeded) return;  // whole runs only: how long this task takes, for predictions
  // Bounded: a flood of distinct parameters starts the averages afresh rather than grow them.
  if (run_s_by_task_.size() >= 10'000) run_s_by_task_.clear();
  for (const std::string& key : {job.spec.task, job.spec.task + "\n" + job.spec.params_json}) {
    auto [avg, fresh] = run_s_by_task_.try_emplace(key, ran_s);
    if (!fresh) avg->second = 0.7 * avg->second + 0.3 * std::max(ran_s, 0.001);
  }
}

void Orchestrator::finish(JobId id, JobState state, EndReason reason, std::string error,
                          Output output, std::optional<int> ran_attempt) {
  auto it = active_.find(id);
  if (it == active_.end()) {
    // A job that ends without having run (cancelled while queued) comes out of the queue.
    std::optional<Job> queued = queued_job(id);
    if (!queued) return;
    queue_.erase(id);
    parked_.erase(id);
    it = active_.emplace(id, std::move(*queued)).first;
  }
  Job& job = it->second;
  bool retry = core::should_retry(state, reason, job.attempt, job.spec.max_retries) &&
               core::can_transition(job.state, JobState::queued);
  // Once this save is durable, the executor may forget the run (its exit record goes with it).
  auto saved = [this, id, ran_attempt](const core::Result<void>& r) {
    if (!r) spdlog::error("job {}: new state not stored: {}", id, r.error().message);
    if (r && ran_attempt) executor_->release(id, *ran_attempt);
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
                                                    largest_capacity_mb());
      error += fmt::format("; reservation {} -> {} MiB", before, job.spec.vram_mb);
    }
    job.error = fmt::format("attempt {}: {}; retrying", job.attempt, error);
    job.warnings.push_back(job.error);  // kept after a later attempt succeeds and clears `error`
    job.state = JobState::queued;
    keep_attempt_logs(id, job.attempt);  // each attempt's logs are kept: attempt-N.stdout.log
    job.attempt += 1;
    job.queued_at_ms = now_ms();
    job.output = std::move(output.text);
    job.output_truncated = output.truncated;
    job.not_before_ms = retry_at_ms(job);
    store_->save(job, saved);
    if (job.not_before_ms > 0) {
      park_delayed(job);
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
  std::optional<store::Store::FootprintRecord> footprint = learn_from(job);
  Job& settled = settling_.insert_or_assign(id, std::move(job)).first->second;
  active_.erase(it);
  queue_.erase(id);
  store_->save(
      settled,
      [this, id, saved](const core::Result<void>& r) {
        saved(r);
        settling_.erase(id);
      },
      std::nullopt, std::move(footprint), store::Store::SaveMode::until_durable);
  publish_job(settled);
  notify_waiters(id);
  log_watcher_.forget(id);
  schedule_soon();
  release_dependents(id, state == JobState::succeeded);
}

void Orchestrator::request_sample() {
  if (sampling_) {
    resample_ = true;
    return;
  }
  sampling_ = true;
  std::vector<gpu::JobProbe> probes;
  for (const auto& [id, r] : running_) {
    // A run on a warm worker is measured as the worker's processes.
    // (Its worker may be gone already while the run's end is being recorded.)
    auto w = r.worker != 0 ? workers_.find(r.worker) : workers_.end();
    std::string sim_dir = w != workers_.end() ? w->second.dir : r.job_dir;
    probes.push_back(
        {.job = id,
         .gpus = r.gpus,
         .reservation_mb = r.reservation_mb,
         .pgid = active_.at(id).pid,
         .sim_vram_file = gpu_kind_ == "sim" ? sim_dir + "/sim-vram-mb" : "",
         .usage_file = cluster_ && !r.cluster_pending ? measured_now_path(r.job_dir) : ""});
  }
  // Workers without a run: by their id negated (job ids are positive).
  for (const auto& [wid, w] : workers_) {
    if (w.job != 0) continue;
    probes.push_back({.job = -wid,
                      .gpus = {w.gpu},
                      .reservation_mb = w.held_mb,
                      .pgid = w.pid,
                      .sim_vram_file = gpu_kind_ == "sim" ? w.dir + "/sim-vram-mb" : ""});
  }
  std::uint64_t seq = ++samples_started_;
  gpu_worker_.async_run(
      [source = gpu_source_.get(), probes = std::move(probes)] { return source->sample(probes); },
      [this, seq](core::Result<gpu::GpuSample> s) { on_sample(std::move(s), seq); });
}

void Orchestrator::note_lost_gpus(gpu::GpuSample& next) const {
  for (std::size_t g = 0; g < next.gpus.size(); ++g) {
    gpu::GpuInfo& now = next.gpus[g];
    const gpu::GpuInfo& before = sample_.gpus[g];
    if (!now.error.empty()) {
      // A lost GPU answers nothing, not even its UUID: it stays the GPU it was, unknown.
      now.uuid = before.uuid;
      now.name = before.name;
      now.total_mb = before.total_mb;
      if (before.error.empty()) {
        spdlog::error(
            "GPU {} ({}) cannot be read: {}; nothing is admitted to it until it "
            "answers again",
            g, before.uuid, now.error);
      }
    } else if (!before.error.empty()) {
      spdlog::info("GPU {} ({}) answers again", g, now.uuid);
    }
  }
}

void Orchestrator::on_sample(core::Result<gpu::GpuSample> s, std::uint64_t seq) {
  sampling_ = false;
  // A reading begun after the last exits shows their memory as it is now (freed, or foreign).
  if (s && seq >= departed_until_sample_) departed_mb_.clear();
  if (!s) {
    if (gpu_error_.empty()) spdlog::error("GPU reading failed: {}", s.error().message);
    gpu_error_ = s.error().message;
  } else {
    if (!gpu_error_.empty()) spdlog::info("GPU readings are back");
    gpu_error_.clear();
    // Keep the GPU list stable: a reading with another device count is ignored.
    if (s->gpus.size() == sample_.gpus.size()) {
      note_lost_gpus(*s);
      sample_ = std::move(*s);
    }
    for (auto& [id, r] : running_) {
      auto m = sample_.job_used_mb.find(id);
      r.measured_mb = m == sample_.job_used_mb.end() ? std::map<int, std::int64_t>{} : m->second;
      if (std::optional<std::int64_t> highest = r.highest_mb()) {
        Job& job = active_.at(id);
        job.peak_vram_mb = std::max(job.peak_vram_mb.value_or(0), *highest);
        if (auto w = workers_.find(r.worker); w != workers_.end()) {
          w->second.peak_mb = std::max(w->second.peak_mb, *highest);
        }
      }
      guard_vram(id, r);
    }
    for (auto& [wid, w] : workers_) {
      auto m = sample_.job_used_mb.find(-wid);
      if (w.job != 0 || m == sample_.job_used_mb.end() || m->second.empty()) continue;
      std::int64_t mb = m->second.begin()->second;
      w.measured_mb = mb;
      w.peak_mb = std::max(w.peak_mb, mb);
      // Idle, a reading is what it holds; going (or still loading), it keeps the most seen.
      w.held_mb = w.state == core::WorkerState::idle ? mb : std::max(w.held_mb, mb);
    }
  }
  publish_readings();
  schedule_soon();
  if (resample_) {
    resample_ = false;
    request_sample();
  }
}

void Orchestrator::guard_vram(JobId id, Running& r) {
  std::int64_t peak_before = r.over_use.peak_mb;
  core::VramVerdict verdict =
      core::judge_vram(r.reservation_mb, r.highest_mb(), now_ms(), vram_limits_, r.over_use);
  auto what = [&] {
    return fmt::format(
        "used up to {} MiB on GPU {}, above its reservation of {} MiB plus {:g}% for more than "
        "{} ms",
        r.over_use.peak_mb, fmt::join(r.gpus, ","), r.reservation_mb, vram_limits_.tolerance * 100,
        vram_limits_.grace_ms);
  };
  if (verdict == core::VramVerdict::act) {
    spdlog::warn("job {}: {}", id, what());
    ++metrics_.enforcements[vram_limits_.policy == core::VramPolicy::kill ? "kill" : "warn"];
    if (vram_limits_.policy == core::VramPolicy::kill) {
      r.stop_detail = what();
      stop_job(id, EndReason::vram_exceeded);
      return;
    }
    Job& job = active_.at(id);
    r.warning_index = job.warnings.size();
    job.warnings.push_back(what());
    store_->save(job);
    publish_job(job);
  } else if (r.warning_index && r.over_use.peak_mb > peak_before) {
    // Warned already (warn policy): the warning keeps quoting the peak as the job grows on.
    Job& job = active_.at(id);
    job.warnings.at(*r.warning_index) = what();
    store_->save(job);
    publish_job(job);
  }
}

std::optional<store::Store::FootprintRecord> Orchestrator::learn_from(const Job& job) {
  // Only whole successful runs with a reading teach: a failed run may have died before its peak.
  if (job.state != JobState::succeeded || job.spec.task.empty() || !job.peak_vram_mb) {
    return std::nullopt;
  }
  const core::TaskDef* task = catalog_.find(job.spec.task);
  if (task == nullptr || !task->learn) return std::nullopt;
  store::Store::FootprintRecord f{
      .task = task->name,
      .bucket = core::footprint_bucket(task->vram, params_from_json(job.spec.params_json)),
      .peak_mb = *job.peak_vram_mb,
      .reserved_mb = job.spec.vram_mb};
  footprints_.add(f.task, f.bucket, {.peak_mb = f.peak_mb, .reserved_mb = f.reserved_mb});
  return f;
}

std::int64_t Orchestrator::largest_capacity_mb() const {
  std::int64_t most = 0;
  for (const gpu::GpuInfo& g : sample_.gpus)
    most = std::max(most, g.total_mb - config_.vram_buffer_mb);
  return most;
}

}  // namespace vramq::service
