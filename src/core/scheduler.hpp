#pragma once
// Admission and placement as a pure function, after Nomad's scheduler: plan(snapshot) reads an
// immutable view of the queue and the GPUs and returns decisions; it never mutates anything.
// Steps: feasibility (which GPUs can hold the job now) -> rank (best fit: least VRAM left over)
// -> plan (priority first, FIFO within a priority, bounded backfill). Every job that does not
// start gets a PendingReason.

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "core/job.hpp"

namespace vramq::core {

struct GpuView {
  int index = 0;
  std::int64_t total_mb = 0;
  // Sum over vramq's jobs on this GPU of max(reservation, measured use).
  std::int64_t committed_mb = 0;
  // In use by processes vramq did not start (and driver memory no process accounts for).
  std::int64_t foreign_mb = 0;
  // False when the GPU has no current reading: nothing is admitted to it until it has one.
  bool known = true;
};

struct QueuedJob {
  JobId id = 0;
  int priority = 0;
  std::int64_t vram_mb = 0;
  std::int64_t queued_at_ms = 0;
  // GPU held for this job by an earlier plan because it waited past the backfill bound; sticky
  // so that the held GPU drains instead of the hold wandering between GPUs (which could starve).
  std::optional<int> held_gpu;
};

struct SchedulerConfig {
  std::int64_t buffer_mb = 1024;             // kept free on every GPU (the seed's VRAM_BUFFER)
  std::int64_t backfill_bound_ms = 300'000;  // a job waiting longer is never passed
};

struct Snapshot {
  // Precondition: in queue order (queue_before), i.e. priority desc, then id asc.
  std::span<const QueuedJob> queue;
  // Precondition: gpus[i].index == i (held_gpu and StartDecision::gpu are these indexes).
  std::span<const GpuView> gpus;
  std::int64_t now_ms = 0;
  SchedulerConfig config;
  bool draining = false;
};

struct StartDecision {
  JobId job = 0;
  int gpu = 0;
  std::int64_t available_mb = 0;  // on that GPU before this start
  std::int64_t leftover_mb = 0;   // rank score: the best fit leaves the least
  bool operator==(const StartDecision&) const = default;
};

struct PendingDecision {
  JobId job = 0;
  int position = 0;  // 0 = next to start among the jobs still queued
  PendingReason reason = PendingReason::none;
  std::optional<int> held_gpu;         // GPU now held for this job (see QueuedJob::held_gpu)
  std::int64_t best_available_mb = 0;  // most VRAM free on any usable GPU, for explanations
  bool operator==(const PendingDecision&) const = default;
};

struct Decisions {
  std::vector<StartDecision> starts;     // in the order they should be applied
  std::vector<PendingDecision> pending;  // every other job, in queue order
};

Decisions plan(const Snapshot& snapshot);

// Queue order: priority desc, then id asc (FIFO: ids increase with submission).
bool queue_before(const QueuedJob& a, const QueuedJob& b);

// What admission may still give on a GPU: total - committed - foreign - buffer (may be < 0).
std::int64_t available_mb(const GpuView& gpu, std::int64_t buffer_mb);

// Whether some GPU could ever hold `vram_mb` (empty and free of foreign use). A job for which this
// is false is refused at submit (422), never queued.
bool fits_ever(std::int64_t vram_mb, std::span<const GpuView> gpus, std::int64_t buffer_mb);

}  // namespace vramq::core
