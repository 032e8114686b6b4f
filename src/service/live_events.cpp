// Orchestrator: what it publishes for GET /v1/events (issue 13). A job's event comes with each
// change of its own (queued with its place, started, a warning, a new measured use, retried,
// ended); the head of the queue is one `queue` event after a pass that changed it, at most every
// QueueEvents::kIntervalMs (queue_events.hpp); GPU and
// worker events come after a reading that changed them, and as a worker goes.
#include <algorithm>
#include <cstdlib>

#include "core/job_record.hpp"
#include "service/orchestrator.hpp"

namespace vramq::service {
using core::Job;
using core::JobId;

namespace {

constexpr std::size_t kQueueHeadLength = 20;

// A running job's use is published again when it moved by this much: a model that creeps by a
// few MiB a reading does not fill the ring.
bool use_moved(std::optional<std::int64_t> before, std::optional<std::int64_t> now,
               std::int64_t reservation_mb) {
  if (!now) return false;
  if (!before) return true;
  return std::abs(*now - *before) >= std::max<std::int64_t>(64, reservation_mb / 50);
}

}  // namespace

void Orchestrator::publish_job(const Job& job) {
  if (feed_.enabled()) feed_.job(view(job));
}

QueueHead Orchestrator::queue_head() const {
  QueueHead q{.queued = queue_.size(), .waiting = waiting_.parked().size(), .head = {}};
  std::vector<core::PredictionQueued> ahead;  // the head so far, for each one's prediction
  for (JobId id : queue_.head(kQueueHeadLength)) {
    std::optional<Job> job = queued_job(id);
    std::optional<core::JobQueue::Place> place = queue_.place(id);
    if (!job || !place) continue;
    ahead.push_back({.vram_mb = job->spec.vram_mb,
                     .duration_ms = run_times_.expected_ms(job->spec),
                     .gpus = job->spec.gpus});
    q.head.push_back({.id = id,
                      .position = place->position,
                      .reason = place->reason,
                      .task = job->spec.task,
                      .name = job->spec.name,
                      .owner = job->spec.owner,
                      .vram_mb = job->spec.vram_mb,
                      .gpus = job->spec.gpus,
                      .priority = job->spec.priority,
                      .predicted_start_ms = predict_start(ahead).value_or(0)});
  }
  return q;
}

void Orchestrator::publish_readings() {
  if (!feed_.enabled()) return;
  for (const GpuStatus& g : gpus())
    feed_.gpu(g);
  for (const WorkerStatus& w : workers_->statuses())
    feed_.worker(w);
  for (auto& [id, r] : running_) {
    std::optional<std::int64_t> now = r.highest_mb();
    bool moved = use_moved(r.published_mb, now, r.reservation_mb);
    if (!moved && !r.progress_unpublished) continue;
    if (moved) r.published_mb = now;
    r.progress_unpublished = false;
    publish_job(active_.at(id));
  }
}

}  // namespace vramq::service
