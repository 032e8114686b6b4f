#include "service/process_runs.hpp"

#include <signal.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "service/job_environment.hpp"
#include "service/job_paths.hpp"

namespace vramq::service {
using core::JobId;

ProcessRuns::ProcessRuns(boost::asio::io_context& ioc, RunHost& host,
                         std::unique_ptr<exec::Executor> executor, const core::Config& config,
                         GpuReadings& readings)
    : ioc_(ioc),
      host_(host),
      executor_(std::move(executor)),
      config_(config),
      readings_(readings) {}

std::optional<Refusal> local_refusal(const core::Job& job, std::span<const gpu::GpuInfo> gpus,
                                     std::int64_t buffer_mb) {
  std::int64_t vram_mb = job.spec.vram_mb;
  int count = job.spec.gpus;
  if (count > std::ssize(gpus)) {
    return Refusal{"gpus", fmt::format("gpus: the job needs {} GPUs at once but this server has {}",
                                       count, gpus.size())};
  }
  auto can_give = [&](const gpu::GpuInfo& g) { return g.total_mb - buffer_mb >= vram_mb; };
  auto giving = std::ranges::count_if(gpus, can_give);
  if (giving >= std::max(1, count)) return std::nullopt;
  if (count > 1 && giving >= 1) {
    return Refusal{"vram_mb",
                   fmt::format("vram_mb: the job needs {} MiB on each of {} GPUs, but fewer of "
                               "this server's GPUs can ever give that much (GPU minus the {} MiB "
                               "buffer)",
                               vram_mb, count, buffer_mb)};
  }
  std::int64_t largest = 0;
  for (const gpu::GpuInfo& g : gpus)
    largest = std::max(largest, g.total_mb - buffer_mb);
  return Refusal{"vram_mb", fmt::format("vram_mb: the job needs {} MiB but no GPU can ever give "
                                        "more than {} MiB (largest GPU minus the {} MiB buffer)",
                                        vram_mb, largest, buffer_mb)};
}

std::optional<Refusal> ProcessRuns::refuses(const core::Job& job) const {
  return local_refusal(job, readings_.gpus(), config_.vram_buffer_mb);
}

exec::LaunchSpec ProcessRuns::launch_spec(const core::Job& job, const Placement& where) const {
  return {.job = job.id,
          .argv = job.spec.argv,
          .cwd = job.spec.cwd,
          .env = job_environment(where.env),
          .stdout_path = log_path(where.job_dir, "stdout"),
          .stderr_path = log_path(where.job_dir, "stderr"),
          .attempt = job.attempt,
          .started_at_ms = where.started_at_ms,
          .gpus = where.gpus,
          .worker_stdio = false,
          .user = where.user != nullptr ? std::optional(*where.user) : std::nullopt,
          .needs = {.vram_mb = job.spec.vram_mb,
                    .gpus = job.spec.gpus,
                    .timeout_s = job.spec.timeout_s,
                    .priority = job.spec.priority,
                    .job_dir = where.job_dir}};
}

std::optional<exec::Launched> ProcessRuns::start(core::Job& job, const Placement& where) {
  auto started = executor_->start(launch_spec(job, where), on_exit(job.id));
  if (started) return *started;
  host_.start_failed(job.id, started.error().message, started.error().errno_value, std::nullopt);
  return std::nullopt;
}

void ProcessRuns::started(JobId id) {
  const core::Job& job = host_.job_of(id);
  spdlog::info("job {}: started on GPU {} (pid {}, {} MiB reserved{})", id,
               fmt::join(job.gpus, ","), job.pid, job.spec.vram_mb,
               job.gpus.size() > 1 ? " on each" : "");
}

void ProcessRuns::stop(JobId id, Run& r) {
  executor_->signal_group(id, SIGTERM);
  r.kill = std::make_unique<ServiceTimer>(ioc_, std::chrono::seconds(r.stop_grace_s));
  r.kill->async_wait([this, id](const boost::system::error_code& e) {
    if (!e) executor_->signal_group(id, SIGKILL);
  });
}

gpu::JobProbe ProcessRuns::probe(JobId id, const Run& r) const {
  return {.job = id,
          .gpus = r.gpus,
          .reservation_mb = r.reservation_mb,
          .pgid = host_.job_of(id).pid,
          .sim_vram_file = readings_.simulated() ? r.job_dir + "/sim-vram-mb" : "",
          .usage_file = ""};
}

void ProcessRuns::adopt(JobId id, exec::Survivor& run) {
  executor_->adopt(run, on_exit(id));
}

std::optional<RunEnd> ProcessRuns::exit_end(JobId id, const exec::ExitStatus& status) {
  Run* r = host_.run_of(id);
  if (r == nullptr) return std::nullopt;
  if (!status.lost.empty()) spdlog::warn("job {}: {}", id, status.lost);
  // What it was last seen to use stays counted until a reading taken after its exit: a real
  // driver frees a dead process's memory only a moment later (then it shows as foreign), and
  // a job started into that memory at once could run out of it.
  readings_.departed(r->measured_mb);
  core::Job& job = host_.job_of(id);
  if (!status.spawn_error.empty() && core::is_host_error(status.spawn_errno) &&
      r->stop_reason == core::EndReason::none) {
    // Its supervisor could not start it for a host reason (its logs could not be opened on a
    // full disk, no processes left): nothing ran.
    host_.start_failed(id, status.spawn_error, status.spawn_errno, job.attempt);
    return std::nullopt;
  }
  job.exit_code = status.exit_code;
  job.signal = status.signal;
  return RunEnd{.outcome = core::run_outcome(r->stop_request(job.spec.timeout_s), status),
                .ran_attempt = job.attempt,
                .result = std::nullopt,
                .evidence_log = log_path(r->job_dir, "stderr"),
                .quote_evidence = false,
                .peak_file = ""};
}

void ProcessRuns::exited(JobId id, const exec::ExitStatus& status) {
  if (std::optional<RunEnd> end = exit_end(id, status)) host_.end_run(id, std::move(*end));
}

}  // namespace vramq::service
