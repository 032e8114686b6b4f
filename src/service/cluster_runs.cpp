#include "service/cluster_runs.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <algorithm>
#include <filesystem>

#include "service/job_paths.hpp"

namespace vramq::service {
using core::JobId;

ClusterRuns::ClusterRuns(boost::asio::io_context& ioc, RunHost& host,
                         std::unique_ptr<exec::Executor> executor, const core::Config& config,
                         GpuReadings& readings)
    : ProcessRuns(ioc, host, std::move(executor), config, readings),
      settings_(core::slurm_settings(config)) {
  executor_->on_state([this](JobId id, const exec::ClusterRunState& s) { on_state(id, s); });
}

std::optional<Refusal> ClusterRuns::refuses(const core::Job& job) const {
  core::SlurmSettings s = settings_;
  for (const gpu::GpuInfo& g : readings_.gpus()) {
    std::int64_t units =
        s.mode == core::SlurmVramMode::shard ? g.total_mb / s.shard_mb : g.total_mb;
    s.largest_gpu_units = std::max(s.largest_gpu_units, units);
  }
  auto options =
      core::sbatch_options({.id = job.id, .vram_mb = job.spec.vram_mb, .gpus = job.spec.gpus}, s);
  if (!options) return Refusal{job.spec.gpus > 1 ? "gpus" : "vram_mb", options.error().message};
  return std::nullopt;
}

std::optional<exec::Launched> ClusterRuns::start(core::Job& job, const Placement& where) {
  // For its batch step (vramq batch-step) on the node: where NVML is, how often to read it.
  Placement there = where;
  there.env.emplace_back("VRAMQ_NVML_LIBRARY", config_.nvml_library);
  there.env.emplace_back("VRAMQ_MEASURE_MS", std::to_string(config_.gpu_poll_ms));
  std::error_code ec;
  std::filesystem::remove(measured_now_path(where.job_dir), ec);  // a retry is measured afresh
  std::filesystem::remove(measured_peak_path(where.job_dir), ec);
  std::optional<exec::Launched> launched = ProcessRuns::start(job, there);
  if (launched) handed_[job.id] = {};
  return launched;
}

void ClusterRuns::started(JobId id) {
  auto it = handed_.find(id);
  if (it == handed_.end() || !it->second.state) return;
  const exec::ClusterRunState& state = *it->second.state;
  spdlog::info("job {}: started by Slurm (job {}) on {} GPU {}", id, state.cluster_id, state.nodes,
               fmt::join(state.gpus, ","));
}

gpu::JobProbe ClusterRuns::probe(JobId id, const Run& r) const {
  gpu::JobProbe p = ProcessRuns::probe(id, r);
  if (running(id)) p.usage_file = measured_now_path(r.job_dir);
  return p;
}

void ClusterRuns::describe(JobId id, JobView& view) const {
  auto it = handed_.find(id);
  if (it == handed_.end()) return;
  view.cluster = it->second.state;
  // Handed to the cluster: its queue, not ours.
  if (it->second.pending) view.pending_reason = core::PendingReason::cluster;
}

bool ClusterRuns::running(JobId id) const {
  auto it = handed_.find(id);
  return it == handed_.end() || !it->second.pending;
}

std::optional<std::size_t> ClusterRuns::takes_queue() const {
  auto unconfirmed = static_cast<std::size_t>(std::ranges::count_if(
      handed_, [](const auto& h) { return h.second.pending && !h.second.state; }));
  return unconfirmed >= kUnconfirmed ? 0 : kUnconfirmed - unconfirmed;
}

std::vector<int> ClusterRuns::gpu_indexes(const std::vector<std::string>& uuids) const {
  std::vector<int> out;
  for (const std::string& u : uuids) {
    for (const gpu::GpuInfo& g : readings_.gpus()) {
      if (g.uuid == u) out.push_back(g.index);
    }
  }
  std::ranges::sort(out);
  return out;
}

void ClusterRuns::on_state(JobId id, const exec::ClusterRunState& state) {
  auto it = handed_.find(id);
  if (it == handed_.end() || host_.run_of(id) == nullptr) return;
  Handed& h = it->second;
  bool was_unconfirmed = !h.state;
  h.state = state;
  if (state.phase == exec::ClusterRunState::Phase::running && h.pending) {
    h.pending = false;
    const core::Job& job = host_.job_of(id);
    // The cluster's clock is in seconds: never a start before it was queued or after now.
    std::int64_t now = ServiceClock::wall_ms();
    std::int64_t started = state.started_at_ms > 0 ? state.started_at_ms : now;
    started = std::clamp(started, std::max(job.queued_at_ms, job.submitted_at_ms),
                         std::max(now, job.submitted_at_ms));
    host_.run_started(id, gpu_indexes(state.gpus), started);
    readings_.request();
  } else {
    host_.changed(id);
  }
  if (was_unconfirmed) host_.schedule_soon();  // room for the next submissions
}

void ClusterRuns::adopt(JobId id, exec::Survivor& run) {
  bool waiting =
      !run.ended && run.cluster && run.cluster->phase != exec::ClusterRunState::Phase::running;
  if (run.cluster && !waiting) run.gpus = gpu_indexes(run.cluster->gpus);
  if (waiting) {
    spdlog::info("job {}: adopted, waiting in Slurm's queue (job {})", id, run.cluster->cluster_id);
  }
  handed_[id] = {.pending = waiting, .state = run.cluster};
  ProcessRuns::adopt(id, run);
}

void ClusterRuns::exited(JobId id, const exec::ExitStatus& status) {
  auto it = handed_.find(id);
  if (it == handed_.end()) return;
  Handed h = std::move(it->second);
  handed_.erase(it);
  Run* r = host_.run_of(id);
  if (r == nullptr) return;
  // A run that ended between two looks at the cluster's queue was never seen running: it ran
  // all the same (unless it was cancelled there, or never submitted).
  bool ran_unseen = h.pending && h.state && r->stop_reason != core::EndReason::cancelled &&
                    status.spawn_error.empty() && status.lost.empty();
  std::string dir = r->job_dir;
  std::optional<RunEnd> end = exit_end(id, status);
  if (!end) return;
  if (ran_unseen) {
    core::Job& job = host_.job_of(id);
    job.state = core::JobState::running;
    job.started_at_ms = ServiceClock::wall_ms();
  }
  end->peak_file = measured_peak_path(dir);
  host_.end_run(id, std::move(*end));
}

}  // namespace vramq::service
