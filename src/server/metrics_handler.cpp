// GET /metrics: Prometheus text format 0.0.4 (docs/operations.md, "Metrics"). Gauges are read
// from the live state when scraped; counters and histograms count since the server started (a
// restart resets them, which Prometheus's rate() expects). Byte units, as Prometheus names them.
#include <fmt/format.h>

#include "server/http_metrics.hpp"
#include "server/metrics_text.hpp"
#include "server/router.hpp"

#ifndef VRAMQ_VERSION
#define VRAMQ_VERSION "unknown"
#endif

namespace vramq::server {
namespace {

constexpr double kMiB = 1024.0 * 1024.0;

void job_metrics(MetricsText& out, const service::Orchestrator& o,
                 const service::ServiceHealth& health) {
  const service::ServiceMetrics& m = o.metrics();
  out.family("vramq_jobs_submitted_total", "counter",
             "Jobs accepted, by task (\"\" for raw commands)");
  for (const auto& [task, n] : m.submitted)
    out.sample("vramq_jobs_submitted_total", {{"task", task}}, static_cast<double>(n));
  out.family("vramq_jobs_ended_total", "counter",
             "Jobs that reached a final state, by task, state and reason (\"\" when none)");
  for (const auto& [key, n] : m.ended) {
    const auto& [task, state, reason] = key;
    out.sample("vramq_jobs_ended_total", {{"task", task}, {"state", state}, {"reason", reason}},
               static_cast<double>(n));
  }
  out.family("vramq_jobs_queued", "gauge",
             "Jobs queued now, those held back for dependencies or retry delays included");
  out.sample("vramq_jobs_queued", {}, static_cast<double>(health.queued + health.waiting));
  out.family("vramq_jobs_running", "gauge", "Jobs running now");
  out.sample("vramq_jobs_running", {}, static_cast<double>(health.running));
  out.family("vramq_job_wait_seconds", "histogram",
             "Time from queued to started, by task (each start, retries included)");
  for (const auto& [task, h] : m.wait_s)
    out.histogram("vramq_job_wait_seconds", {{"task", task}}, h);
  out.family("vramq_job_run_seconds", "histogram",
             "Time from started to ended of jobs that ended, by task");
  for (const auto& [task, h] : m.run_s)
    out.histogram("vramq_job_run_seconds", {{"task", task}}, h);
  out.family("vramq_vram_enforcements_total", "counter",
             "Jobs over their VRAM reservation past the grace, by the action taken (kill, warn)");
  for (const auto& [action, n] : m.enforcements)
    out.sample("vramq_vram_enforcements_total", {{"action", action}}, static_cast<double>(n));
  out.family("vramq_gpu_oom_retries_total", "counter",
             "Attempts that ended in a CUDA out-of-memory error and were queued again");
  out.sample("vramq_gpu_oom_retries_total", {}, static_cast<double>(m.gpu_oom_retries));
  std::map<std::string, service::Orchestrator::OwnerUse> owners = o.owner_use();
  out.family("vramq_owner_reserved_mib", "gauge",
             "VRAM reserved by each owner's running jobs (MiB x GPUs), borrowed included");
  for (const auto& [owner, u] : owners)
    out.sample("vramq_owner_reserved_mib", {{"owner", owner}}, static_cast<double>(u.reserved_mb));
  out.family(
      "vramq_owner_borrowed_mib", "gauge",
      "Of that, VRAM its running jobs hold above its guarantee (reclaimable when preemptible)");
  for (const auto& [owner, u] : owners)
    out.sample("vramq_owner_borrowed_mib", {{"owner", owner}}, static_cast<double>(u.borrowed_mb));
  out.family("vramq_owner_quota_mib", "gauge", "Each owner's guaranteed VRAM (quota_mb)");
  for (const auto& [owner, u] : owners) {
    if (u.quota_mb)
      out.sample("vramq_owner_quota_mib", {{"owner", owner}}, static_cast<double>(*u.quota_mb));
  }
  out.family("vramq_preemptions_total", "counter",
             "Runs stopped to give borrowed VRAM back to an owner's guarantee, by the owner "
             "of the stopped job (each was queued again)");
  for (const auto& [owner, n] : m.preemptions)
    out.sample("vramq_preemptions_total", {{"owner", owner}}, static_cast<double>(n));
  out.family("vramq_supervisor_starts_total", "counter",
             "Runs started on this host, by how their supervisor started: forked by the "
             "supervisor launcher (launcher) or exec'd (spawn, its fallback)");
  for (const auto& [via, n] : health.starts)
    out.sample("vramq_supervisor_starts_total", {{"via", via}}, static_cast<double>(n));
  out.family("vramq_start_recheck_failures_total", "counter",
             "Starts a scheduling pass chose that failed the VRAM re-check (planned again)");
  out.sample("vramq_start_recheck_failures_total", {}, static_cast<double>(m.recheck_failures));
}

void gpu_metrics(MetricsText& out, const service::Orchestrator& o) {
  std::vector<service::GpuStatus> gpus = o.gpus();
  struct Figure {
    std::string_view name;
    std::string_view help;
    std::int64_t (*mb)(const service::GpuStatus&);
  };
  const Figure figures[] = {
      {"vramq_gpu_memory_total_bytes", "The GPU's memory",
       [](const service::GpuStatus& g) { return g.info.total_mb; }},
      {"vramq_gpu_memory_used_bytes", "Memory in use on the GPU, as the last reading showed",
       [](const service::GpuStatus& g) { return g.info.used_mb; }},
      {"vramq_gpu_memory_reserved_bytes", "Memory reserved by vramq's running jobs",
       [](const service::GpuStatus& g) { return g.reserved_mb; }},
      {"vramq_gpu_memory_foreign_bytes", "Memory in use by processes that are not vramq's jobs",
       [](const service::GpuStatus& g) { return g.info.foreign_mb; }},
      {"vramq_gpu_memory_available_bytes", "Memory admission may still give (buffer kept)",
       [](const service::GpuStatus& g) { return g.available_mb; }},
  };
  for (const Figure& f : figures) {
    out.family(f.name, "gauge", f.help);
    for (const service::GpuStatus& g : gpus) {
      std::string index = std::to_string(g.info.index);
      out.sample(f.name, {{"gpu", index}, {"uuid", g.info.uuid}},
                 static_cast<double>(f.mb(g)) * kMiB);
    }
  }
  out.family("vramq_gpu_known", "gauge",
             "1 while the GPU answers readings; 0 while it cannot be read (nothing is admitted)");
  for (const service::GpuStatus& g : gpus) {
    std::string index = std::to_string(g.info.index);
    out.sample("vramq_gpu_known", {{"gpu", index}, {"uuid", g.info.uuid}}, g.known ? 1 : 0);
  }
}

void worker_metrics(MetricsText& out, const service::Orchestrator& o) {
  std::map<std::pair<std::string, std::string_view>, int> by_state;
  for (const core::TaskDef& t : o.catalog().tasks()) {
    if (!t.worker) continue;
    for (auto s : {core::WorkerState::starting, core::WorkerState::idle, core::WorkerState::busy,
                   core::WorkerState::unloading}) {
      by_state[{t.name, core::to_string(s)}] = 0;
    }
  }
  for (const service::WorkerStatus& w : o.workers().statuses())
    ++by_state[{w.task, core::to_string(w.state)}];
  out.family("vramq_workers", "gauge", "Warm workers now, by task and state");
  for (const auto& [key, n] : by_state) {
    out.sample("vramq_workers", {{"task", key.first}, {"state", key.second}}, n);
  }
  const service::ServiceMetrics& m = o.metrics();
  out.family("vramq_worker_loads_total", "counter", "Warm workers started, by task");
  for (const auto& [task, n] : m.worker_loads)
    out.sample("vramq_worker_loads_total", {{"task", task}}, static_cast<double>(n));
  out.family("vramq_worker_evictions_total", "counter",
             "Idle warm workers unloaded to make room for a queued job, by task");
  for (const auto& [task, n] : m.worker_evictions)
    out.sample("vramq_worker_evictions_total", {{"task", task}}, static_cast<double>(n));
}

}  // namespace

Response handle_metrics(const service::Orchestrator& o, const HttpMetrics& http) {
  MetricsText out;
  service::ServiceHealth health = o.health();
  out.family("vramq_build_info", "gauge", "Always 1; the labels say which vramq this is");
  out.sample("vramq_build_info", {{"version", VRAMQ_VERSION}, {"gpus", health.gpu_kind}}, 1);
  out.family("vramq_ready", "gauge", "1 when GET /readyz answers 200");
  out.sample("vramq_ready", {}, health.ready() ? 1 : 0);
  job_metrics(out, o, health);
  gpu_metrics(out, o);
  worker_metrics(out, o);
  const service::EventFeed::Resets& resets = o.events().resets();
  out.family("vramq_event_resets_total", "counter",
             "GET /v1/events listeners sent `reset`: fell a whole event ring behind (behind) or "
             "resumed from an id no longer kept (gone)");
  out.sample("vramq_event_resets_total", {{"reason", "behind"}},
             static_cast<double>(resets.behind));
  out.sample("vramq_event_resets_total", {{"reason", "gone"}}, static_cast<double>(resets.gone));
  http.write(out);
  out.family("vramq_store_commit_seconds", "histogram",
             "Time of each transaction of the job store, BEGIN to COMMIT with its fsync");
  out.histogram("vramq_store_commit_seconds", {}, health.store_commit_seconds);
  out.family(
      "vramq_store_up", "gauge",
      "1 while the job store can write; 0 while it cannot (disk full, lock held, I/O error)");
  out.sample("vramq_store_up", {}, health.store.fault == store::StoreFault::none ? 1 : 0);
  return Response{.status = 200,
                  .content_type = "text/plain; version=0.0.4; charset=utf-8",
                  .body = out.text(),
                  .headers = {{"Cache-Control", "no-store"}},
                  .stream = nullptr};
}

}  // namespace vramq::server
