// Orchestrator: jobs on a cluster (--executor slurm). The cluster's scheduler decides where and
// when a job starts, so vramq's own pass does not plan: every queued job is handed over at once,
// in queue order (at most kClusterUnconfirmed whose submission is not confirmed yet). A handed
// over job stays `queued` (pending_reason `cluster`, with the cluster's own reason) until the
// executor reports it running; then it is `running` on the GPUs the cluster gave it, and its
// timeout counts from the cluster's start. Its end comes through on_exit like any run's.
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <algorithm>
#include <filesystem>

#include "service/job_paths.hpp"
#include "service/orchestrator.hpp"

namespace vramq::service {
using core::Job;
using core::JobId;
using core::JobState;

namespace {
// Submissions in flight at once: a queue of thousands is handed over as the cluster accepts.
constexpr std::size_t kClusterUnconfirmed = 64;
}  // namespace

std::size_t Orchestrator::running() const {
  return static_cast<std::size_t>(
      std::ranges::count_if(running_, [](const auto& r) { return !r.second.cluster_pending; }));
}

void Orchestrator::dispatch_to_cluster() {
  if (draining_) return;
  std::size_t unconfirmed = static_cast<std::size_t>(std::ranges::count_if(
      running_, [](const auto& r) { return r.second.cluster_pending && !r.second.cluster; }));
  if (unconfirmed >= kClusterUnconfirmed) return;
  for (JobId id : queue_.head(kClusterUnconfirmed - unconfirmed)) {
    std::optional<Job> job = queued_job(id);
    if (job) launch_on_cluster(std::move(*job));
  }
}

void Orchestrator::launch_on_cluster(Job queued) {
  JobId id = queued.id;
  queue_.erase(id);
  Job& job = active_.insert_or_assign(id, std::move(queued)).first->second;
  std::string dir = job_dir(id);
  if (!make_job_dir(id, dir)) return;
  // The cluster sets CUDA_VISIBLE_DEVICES to the GPU it gives the job.
  std::vector<std::pair<std::string, std::string>> extra = run_environment(job, dir);
  // For its batch step (vramq batch-step) on the node: where NVML is, how often to read it.
  extra.emplace_back("VRAMQ_NVML_LIBRARY", config_.nvml_library);
  extra.emplace_back("VRAMQ_MEASURE_MS", std::to_string(config_.gpu_poll_ms));
  std::error_code ec;
  std::filesystem::remove(measured_now_path(dir), ec);  // a retry is measured afresh
  std::filesystem::remove(measured_peak_path(dir), ec);
  if (!start_run(job, dir, extra, {})) return;
  job.worker = 0;
  running_.emplace(
      id, Running{.reservation_mb = job.spec.vram_mb, .job_dir = dir, .cluster_pending = true});
  publish_job(job);
}

std::vector<int> Orchestrator::cluster_gpu_indexes(const std::vector<std::string>& uuids) const {
  std::vector<int> out;
  for (const std::string& u : uuids) {
    for (const gpu::GpuInfo& g : sample_.gpus) {
      if (g.uuid == u) out.push_back(g.index);
    }
  }
  std::ranges::sort(out);
  return out;
}

void Orchestrator::on_cluster_state(JobId id, const exec::ClusterRunState& state) {
  auto it = running_.find(id);
  if (it == running_.end()) return;
  Running& r = it->second;
  Job& job = active_.at(id);
  bool was_unconfirmed = !r.cluster;
  r.cluster = state;
  if (state.phase == exec::ClusterRunState::Phase::running && r.cluster_pending) {
    r.cluster_pending = false;
    job.state = JobState::running;
    // The cluster's clock is in seconds: never a start before it was queued or after now.
    std::int64_t started = state.started_at_ms > 0 ? state.started_at_ms : now_ms();
    job.started_at_ms = std::clamp(started, std::max(job.queued_at_ms, job.submitted_at_ms),
                                   std::max(now_ms(), job.submitted_at_ms));
    job.gpus = cluster_gpu_indexes(state.gpus);
    job.gpu = job.gpus.empty() ? std::nullopt : std::optional<int>(job.gpus.front());
    r.gpus = job.gpus;
    observe_wait(job);
    store_->save(job);
    arm_timeout(id, r, job.started_at_ms, job.spec.timeout_s);
    log_watcher_.wake(id);
    spdlog::info("job {}: started by Slurm (job {}) on {} GPU {}", id, state.cluster_id,
                 state.nodes, fmt::join(state.gpus, ","));
    request_sample();
  }
  publish_job(job);
  if (was_unconfirmed) schedule_soon();  // room for the next submissions
}

void Orchestrator::adopt_cluster_run(Job job, exec::Survivor run) {
  JobId id = job.id;
  bool waiting =
      !run.ended && run.cluster && run.cluster->phase != exec::ClusterRunState::Phase::running;
  if (!waiting) {
    if (run.cluster) run.gpus = cluster_gpu_indexes(run.cluster->gpus);
    std::optional<exec::ClusterRunState> cluster = run.cluster;
    adopt(std::move(job), run);
    running_.at(id).cluster = cluster;
    return;
  }
  // Still in the cluster's queue: it stays queued, the cluster's to start.
  job.state = JobState::queued;
  spdlog::info("job {}: adopted, waiting in Slurm's queue (job {})", id, run.cluster->cluster_id);
  active_.insert_or_assign(id, std::move(job));
  running_.emplace(id, Running{.reservation_mb = active_.at(id).spec.vram_mb,
                               .job_dir = job_dir(id),
                               .cluster_pending = true,
                               .cluster = run.cluster});
  executor_->adopt(run, [this, id](exec::ExitStatus st) { on_exit(id, std::move(st)); });
}

}  // namespace vramq::service
