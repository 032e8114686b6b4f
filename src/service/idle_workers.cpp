// Orchestrator: warm workers between runs and as the API shows them. An idle worker is pinged
// (one that has not answered by the next ping is broken) and unloaded after its task's
// keep_alive_s; DELETE /v1/workers/{id} and the drain unload idle ones; worker_status() is what
// GET /v1/workers and the events show. Starting, serving and losing workers: warm_workers.cpp.
#include <fmt/format.h>

#include <algorithm>

#include "service/orchestrator.hpp"

namespace vramq::service {
using core::WorkerId;
using core::WorkerState;

void Orchestrator::arm_idle(Worker& w) {
  WorkerId id = w.id;
  const core::TaskDef* task = catalog_.find(w.task);
  std::int64_t keep = task != nullptr && task->worker ? task->worker->keep_alive_s : 0;
  w.timer.reset();
  if (keep >= 0) {
    w.timer = std::make_unique<ServiceTimer>(ioc_, std::chrono::seconds(keep));
    w.timer->async_wait([this, id, keep](const boost::system::error_code& e) {
      if (e) return;  // cancelled: `this` may be going
      auto it = workers_.find(id);
      if (it == workers_.end() || it->second.state != WorkerState::idle) return;
      unload_worker(it->second, fmt::format("idle for {} s (keep_alive_s)", keep));
      schedule_soon();
    });
  }
  arm_pings(w);
}

void Orchestrator::arm_pings(Worker& w) {
  WorkerId id = w.id;
  w.last_pong = w.pings_sent;  // a new period: the answer to the next ping is what counts
  w.ping_timer =
      std::make_unique<ServiceTimer>(ioc_, std::chrono::milliseconds(config_.worker_ping_ms));
  w.ping_timer->async_wait([this, id](const boost::system::error_code& e) {
    if (!e) ping(id);
  });
}

void Orchestrator::ping(WorkerId id) {
  auto it = workers_.find(id);
  if (it == workers_.end() || it->second.state != WorkerState::idle) return;
  Worker& w = it->second;
  if (w.last_pong < w.pings_sent) {
    worker_broken(id, fmt::format("it did not answer a ping within {} ms", config_.worker_ping_ms));
    return;
  }
  w.channel->send(exec::ping_line(++w.pings_sent));
  if (!w.ping_timer) return;  // the send found it broken (it does not read its stdin)
  w.ping_timer->expires_after(std::chrono::milliseconds(config_.worker_ping_ms));
  w.ping_timer->async_wait([this, id](const boost::system::error_code& e) {
    if (!e) ping(id);
  });
}

void Orchestrator::release_workers_on_drain() {
  for (auto& [id, w] : workers_) {
    if (w.state == WorkerState::idle) unload_worker(w, "vramq is stopping");
  }
}

WorkerStatus Orchestrator::worker_status(const Worker& w) const {
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
    if (auto r = running_.find(w.job); r != running_.end()) {
      s.resident_mb = std::max(r->second.reservation_mb, r->second.highest_mb().value_or(0));
      s.measured_mb = r->second.highest_mb();
    }
  }
  if (w.state == WorkerState::idle) {
    s.idle_since_ms = w.last_used_ms;
    const core::TaskDef* task = catalog_.find(w.task);
    if (task != nullptr && task->worker && task->worker->keep_alive_s >= 0) {
      s.keep_alive_left_ms =
          std::max<std::int64_t>(0, w.last_used_ms + task->worker->keep_alive_s * 1000 - now_ms());
    }
  }
  return s;
}

std::vector<WorkerStatus> Orchestrator::workers() const {
  std::vector<WorkerStatus> out;
  for (const auto& [id, w] : workers_)
    out.push_back(worker_status(w));
  return out;
}

UnloadOutcome Orchestrator::unload(WorkerId id) {
  auto it = workers_.find(id);
  if (it == workers_.end()) return UnloadOutcome::not_found;
  Worker& w = it->second;
  if (w.state == WorkerState::unloading) return UnloadOutcome::unloading;
  if (w.state != WorkerState::idle) return UnloadOutcome::busy;
  unload_worker(w, "unloaded on request (DELETE /v1/workers)");
  schedule_soon();
  return UnloadOutcome::unloading;
}

}  // namespace vramq::service
