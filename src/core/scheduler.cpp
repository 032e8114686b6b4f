#include "core/scheduler.hpp"

#include <algorithm>
#include <limits>

namespace vramq::core {
namespace {

using GpuState = Planner::GpuState;

constexpr std::int64_t kNoFit = std::numeric_limits<std::int64_t>::min();

// Rank: among GPUs that are known, not held and have room, the one left with the least VRAM
// (best fit); ties go to the lower index. Returns the index into `gpus`, or -1.
int best_fit(const std::vector<GpuState>& gpus, std::int64_t need_mb) {
  int best = -1;
  for (int g = 0; g < static_cast<int>(gpus.size()); ++g) {
    const GpuState& s = gpus[g];
    if (!s.known || s.held_by_priority || s.available_mb < need_mb) continue;
    if (best < 0 || s.available_mb < gpus[best].available_mb) best = g;
  }
  return best;
}

// Why a job that did not start waits: held GPUs it would fit on, then unknown GPUs it could use,
// else plain lack of VRAM.
PendingReason why_pending(const std::vector<GpuState>& gpus, const QueuedJob& job) {
  bool held_fit = false;
  bool higher_priority_holds = false;
  bool unknown_could = false;
  for (const GpuState& s : gpus) {
    if (!s.known) {
      unknown_could = unknown_could || s.capacity_mb >= job.vram_mb;
    } else if (s.held_by_priority && s.available_mb >= job.vram_mb) {
      held_fit = true;
      higher_priority_holds = higher_priority_holds || *s.held_by_priority > job.priority;
    }
  }
  if (held_fit)
    return higher_priority_holds ? PendingReason::priority : PendingReason::head_of_line;
  if (unknown_could) return PendingReason::gpu_unknown;
  return PendingReason::vram;
}

// The GPU to hold for a starving job: its earlier hold if still usable, else the known, unheld
// GPU that could ever hold it and is closest to having room now.
std::optional<int> choose_hold(const std::vector<GpuState>& gpus, const QueuedJob& job) {
  auto usable = [&](int g) {
    const GpuState& s = gpus[g];
    return s.known && !s.held_by_priority && s.capacity_mb >= job.vram_mb;
  };
  if (job.held_gpu && *job.held_gpu >= 0 && *job.held_gpu < static_cast<int>(gpus.size()) &&
      usable(*job.held_gpu)) {
    return job.held_gpu;
  }
  std::optional<int> best;
  for (int g = 0; g < static_cast<int>(gpus.size()); ++g) {
    if (usable(g) && (!best || gpus[g].available_mb > gpus[*best].available_mb)) best = g;
  }
  return best;
}

}  // namespace

bool queue_before(const QueuedJob& a, const QueuedJob& b) {
  if (a.priority != b.priority) return a.priority > b.priority;
  return a.id < b.id;
}

std::int64_t available_mb(const GpuView& gpu, std::int64_t buffer_mb) {
  return gpu.total_mb - gpu.committed_mb - gpu.foreign_mb - buffer_mb;
}

bool fits_ever(std::int64_t vram_mb, std::span<const GpuView> gpus, std::int64_t buffer_mb) {
  return std::ranges::any_of(gpus,
                             [&](const GpuView& g) { return g.total_mb - buffer_mb >= vram_mb; });
}

Planner::Planner(std::span<const GpuView> gpus, std::int64_t now_ms, SchedulerConfig config,
                 bool draining, std::int64_t min_queued_vram_mb)
    : now_ms_(now_ms),
      config_(config),
      draining_(draining),
      min_queued_vram_mb_(min_queued_vram_mb) {
  gpus_.reserve(gpus.size());
  index_.reserve(gpus.size());
  for (const GpuView& g : gpus) {
    gpus_.push_back({.available_mb = g.known ? available_mb(g, config.buffer_mb) : kNoFit,
                     .known = g.known,
                     .capacity_mb = g.total_mb - config.buffer_mb,
                     .held_by_priority = std::nullopt});
    index_.push_back(g.index);
    plain_vram_ = plain_vram_ && g.known;
  }
  refresh_best();
}

// Changes only when a start or a hold changes a GPU: recomputed then, not for every job.
void Planner::refresh_best() {
  most_.reset();
  for (const GpuState& s : gpus_) {
    if (s.known && !s.held_by_priority && (!most_ || s.available_mb > *most_))
      most_ = s.available_mb;
  }
  best_ = std::max<std::int64_t>(0, most_.value_or(0));
}

bool Planner::settled() const {
  return draining_ || !most_ || *most_ < min_queued_vram_mb_;
}

bool Planner::held(int gpu_index) const {
  for (std::size_t g = 0; g < gpus_.size(); ++g) {
    if (index_[g] == gpu_index) return gpus_[g].held_by_priority.has_value();
  }
  return false;
}

PendingReason Planner::reason_for(const QueuedJob& job) const {
  return draining_ ? PendingReason::draining : why_pending(gpus_, job);
}

Planner::Decision Planner::offer(const QueuedJob& job) {
  if (draining_) {
    return {.start = std::nullopt,
            .pending = PendingDecision{.job = job.id,
                                       .position = position_++,
                                       .reason = PendingReason::draining,
                                       .held_gpu = std::nullopt,
                                       .best_available_mb = best_}};
  }
  // Fast path for the long tail of a queue that does not fit anywhere: no GPU scan per job.
  bool may_fit = most_ && *most_ >= job.vram_mb;
  if (int g = may_fit ? best_fit(gpus_, job.vram_mb) : -1; g >= 0) {
    std::int64_t before = gpus_[g].available_mb;
    gpus_[g].available_mb -= job.vram_mb;
    refresh_best();
    return {.start = StartDecision{.job = job.id,
                                   .gpu = index_[g],
                                   .available_mb = before,
                                   .leftover_mb = gpus_[g].available_mb},
            .pending = std::nullopt};
  }
  PendingDecision pending{.job = job.id,
                          .position = position_++,
                          .reason = plain_vram_ ? PendingReason::vram : why_pending(gpus_, job),
                          .held_gpu = std::nullopt,
                          .best_available_mb = best_};
  if (now_ms_ - job.queued_at_ms >= config_.backfill_bound_ms) {
    // Starving: hold one GPU so that nothing behind this job takes its room.
    if (auto hold = choose_hold(gpus_, job)) {
      gpus_[*hold].held_by_priority = job.priority;
      plain_vram_ = false;
      pending.held_gpu = *hold;
      refresh_best();
    }
  }
  return {.start = std::nullopt, .pending = pending};
}

Decisions plan(const Snapshot& snap) {
  Planner planner(snap.gpus, snap.now_ms, snap.config, snap.draining);
  Decisions out;
  out.pending.reserve(snap.queue.size());
  for (const QueuedJob& job : snap.queue) {
    Planner::Decision d = planner.offer(job);
    if (d.start) out.starts.push_back(*d.start);
    if (d.pending) out.pending.push_back(*d.pending);
  }
  return out;
}

}  // namespace vramq::core
