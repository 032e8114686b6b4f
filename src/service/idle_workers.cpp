// Warm workers between runs and as the pass, the ledger and the API see them. An idle worker is
// pinged (one that has not answered by the next ping is broken) and unloaded after its task's
// keep_alive_s; the pass's evictions, DELETE /v1/workers/{id} and the drain unload idle ones;
// status() is what GET /v1/workers and the events show. Starting, serving and losing workers:
// warm_workers.cpp.
#include <signal.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <algorithm>

#include "service/warm_workers.hpp"

namespace vramq::service {
using core::WorkerId;
using core::WorkerState;

void WarmWorkers::arm_idle(Worker& w) {
  WorkerId id = w.id;
  const core::TaskDef* task = d_.catalog.find(w.task);
  std::int64_t keep = task != nullptr && task->worker ? task->worker->keep_alive_s : 0;
  w.timer.reset();
  if (keep >= 0) {
    w.timer = std::make_unique<ServiceTimer>(d_.ioc, std::chrono::seconds(keep));
    w.timer->async_wait([this, id, keep](const boost::system::error_code& e) {
      if (e) return;  // cancelled: `this` may be going
      Worker* idle = find(id);
      if (idle == nullptr || idle->state != WorkerState::idle) return;
      unload(*idle, fmt::format("idle for {} s (keep_alive_s)", keep));
      d_.host.schedule_soon();
    });
  }
  w.last_pong = w.pings_sent;  // a new period: the answer to the next ping is what counts
  arm_ping(id);
}

void WarmWorkers::arm_ping(WorkerId id) {
  Worker* w = find(id);
  if (w == nullptr) return;
  if (!w->ping_timer) {
    w->ping_timer = std::make_unique<ServiceTimer>(d_.ioc);
  }
  w->ping_timer->expires_after(std::chrono::milliseconds(d_.config.worker_ping_ms));
  w->ping_timer->async_wait([this, id](const boost::system::error_code& e) {
    if (!e) ping(id);
  });
}

void WarmWorkers::ping(WorkerId id) {
  Worker* w = find(id);
  if (w == nullptr || w->state != WorkerState::idle) return;
  if (w->last_pong < w->pings_sent) {
    broken(id, fmt::format("it did not answer a ping within {} ms", d_.config.worker_ping_ms));
    return;
  }
  w->channel->send(exec::ping_line(++w->pings_sent));
  if (!w->ping_timer) return;  // the send found it broken (it does not read its stdin)
  arm_ping(id);
}

void WarmWorkers::unload(Worker& w, std::string why) {
  if (w.state == WorkerState::unloading) return;
  spdlog::info("worker {} ({}): unloading from GPU {}: {}", w.id, w.task, w.gpu, why);
  w.state = WorkerState::unloading;
  w.unload_reason = std::move(why);
  w.ping_timer.reset();
  w.channel->send(exec::shutdown_line());
  // It has the grace to exit on its own, then SIGTERM, then SIGKILL after another grace.
  WorkerId id = w.id;
  auto grace = std::chrono::seconds(d_.config.kill_grace_s);
  w.timer = std::make_unique<ServiceTimer>(d_.ioc, grace);
  w.timer->async_wait([this, id, grace](const boost::system::error_code& e) {
    if (e) return;
    d_.executor.signal_group(-id, SIGTERM);
    Worker* going = find(id);
    if (going == nullptr) return;
    going->timer->expires_after(grace);
    going->timer->async_wait([this, id](const boost::system::error_code& e2) {
      if (!e2) d_.executor.signal_group(-id, SIGKILL);
    });
  });
}

UnloadOutcome WarmWorkers::unload(WorkerId id) {
  Worker* w = find(id);
  if (w == nullptr) return UnloadOutcome::not_found;
  if (w->state == WorkerState::unloading) return UnloadOutcome::unloading;
  if (w->state != WorkerState::idle) return UnloadOutcome::busy;
  unload(*w, "unloaded on request (DELETE /v1/workers)");
  d_.host.schedule_soon();
  return UnloadOutcome::unloading;
}

void WarmWorkers::evict(const std::vector<WorkerId>& ids) {
  for (WorkerId id : ids) {
    Worker* w = find(id);
    if (w == nullptr || w->state != WorkerState::idle) continue;
    ++d_.metrics.worker_evictions[w->task];
    unload(*w, "its memory is needed by a queued job");
  }
}

void WarmWorkers::release_on_drain() {
  for (auto& [id, w] : workers_) {
    if (w.state == WorkerState::idle) unload(w, "vramq is stopping");
  }
}

bool WarmWorkers::unloading() const {
  return std::ranges::any_of(
      workers_, [](const auto& w) { return w.second.state == WorkerState::unloading; });
}

std::optional<std::int64_t> WarmWorkers::idle_held_mb(WorkerId id) const {
  auto w = workers_.find(id);
  if (w == workers_.end() || w->second.state != WorkerState::idle) return std::nullopt;
  return w->second.held_mb;
}

core::WorkerView WarmWorkers::view(std::size_t gpu_count) const {
  core::WorkerView v;
  for (std::size_t i = 0; i < tasks_.size(); ++i) {
    v.tasks.push_back({.max_workers = d_.catalog.find(tasks_[i])->worker->max_workers,
                       .resident = 0,
                       .not_before_ms = health_[i].not_before_ms});
  }
  v.unloading_mb.assign(gpu_count, 0);
  for (const auto& [id, w] : workers_) {
    if (w.state == WorkerState::unloading) {
      if (w.gpu >= 0 && w.gpu < std::ssize(v.unloading_mb)) v.unloading_mb[w.gpu] += w.held_mb;
      continue;
    }
    ++v.tasks[static_cast<std::size_t>(w.task_index)].resident;
    if (w.state == WorkerState::idle) {
      v.idle.push_back({.id = id,
                        .task = w.task_index,
                        .gpu = w.gpu,
                        .uid = w.uid,
                        .held_mb = w.held_mb,
                        .last_used_ms = w.last_used_ms});
    }
  }
  return v;
}

void WarmWorkers::add_held(std::vector<core::GpuView>& views) const {
  // Workers without a run hold their memory themselves (with a run, the run carries it).
  for (const auto& [wid, w] : workers_) {
    if (w.job == 0 && w.gpu >= 0 && w.gpu < static_cast<int>(views.size())) {
      views[w.gpu].committed_mb += w.held_mb;
    }
  }
}

std::vector<WorkerId> WarmWorkers::on_gpu(int gpu) const {
  std::vector<WorkerId> out;
  for (const auto& [id, w] : workers_) {
    if (w.gpu == gpu) out.push_back(id);
  }
  return out;
}

void WarmWorkers::add_probes(std::vector<gpu::JobProbe>& probes) const {
  for (const auto& [wid, w] : workers_) {
    if (w.job != 0) continue;
    probes.push_back({.job = -wid,
                      .gpus = {w.gpu},
                      .reservation_mb = w.held_mb,
                      .pgid = w.pid,
                      .sim_vram_file = d_.readings.simulated() ? w.dir + "/sim-vram-mb" : "",
                      .usage_file = ""});
  }
}

void WarmWorkers::on_reading(const gpu::GpuSample& sample) {
  for (auto& [wid, w] : workers_) {
    auto m = sample.job_used_mb.find(-wid);
    if (w.job != 0 || m == sample.job_used_mb.end() || m->second.empty()) continue;
    std::int64_t mb = m->second.begin()->second;
    w.measured_mb = mb;
    w.peak_mb = std::max(w.peak_mb, mb);
    // Idle, a reading is what it holds; going (or still loading), it keeps the most seen.
    w.held_mb = w.state == WorkerState::idle ? mb : std::max(w.held_mb, mb);
  }
}

WorkerStatus WarmWorkers::status(const Worker& w) const {
  WorkerStatus s{.id = w.id,
                 .task = w.task,
                 .gpu = w.gpu,
                 .state = w.state,
                 .pid = w.pid,
                 .resident_mb = w.held_mb,
                 .measured_mb = w.measured_mb,
                 .peak_mb = w.peak_mb,
                 .runs = w.runs,
                 .job = w.job,
                 .started_at_ms = w.started_at_ms,
                 .idle_since_ms = 0,
                 .keep_alive_left_ms = std::nullopt,
                 .unload_reason = w.unload_reason};
  if (w.job != 0) {
    if (const Run* r = d_.host.run_of(w.job)) {
      s.resident_mb = std::max(r->reservation_mb, r->highest_mb().value_or(0));
      s.measured_mb = r->highest_mb();
    }
  }
  if (w.state == WorkerState::idle) {
    s.idle_since_ms = w.last_used_ms;
    const core::TaskDef* task = d_.catalog.find(w.task);
    if (task != nullptr && task->worker && task->worker->keep_alive_s >= 0) {
      s.keep_alive_left_ms = std::max<std::int64_t>(
          0, w.last_used_ms + task->worker->keep_alive_s * 1000 - ServiceClock::wall_ms());
    }
  }
  return s;
}

std::vector<WorkerStatus> WarmWorkers::statuses() const {
  std::vector<WorkerStatus> out;
  out.reserve(workers_.size());
  for (const auto& [id, w] : workers_)
    out.push_back(status(w));
  return out;
}

}  // namespace vramq::service
