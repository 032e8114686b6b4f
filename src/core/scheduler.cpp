#include "core/scheduler.hpp"

#include <algorithm>
#include <limits>

namespace vramq::core {
namespace {

// Per-GPU state while one plan is built. `held_by_priority` is set once a starving job holds it.
struct GpuPlanState {
  std::int64_t available_mb = 0;
  bool known = true;
  std::int64_t capacity_mb = 0;  // total - buffer: what an idle GPU could give
  std::optional<int> held_by_priority;
};

constexpr std::int64_t kNoFit = std::numeric_limits<std::int64_t>::min();

// Rank: among GPUs that are known, not held and have room, the one left with the least VRAM
// (best fit); ties go to the lower index. Returns the index into `gpus`, or -1.
int best_fit(const std::vector<GpuPlanState>& gpus, std::int64_t need_mb) {
  int best = -1;
  for (int g = 0; g < static_cast<int>(gpus.size()); ++g) {
    const GpuPlanState& s = gpus[g];
    if (!s.known || s.held_by_priority || s.available_mb < need_mb) continue;
    if (best < 0 || s.available_mb < gpus[best].available_mb) best = g;
  }
  return best;
}

// Why a job that did not start waits: held GPUs it would fit on, then unknown GPUs it could use,
// else plain lack of VRAM.
PendingReason why_pending(const std::vector<GpuPlanState>& gpus, const QueuedJob& job) {
  bool held_fit = false;
  bool higher_priority_holds = false;
  bool unknown_could = false;
  for (const GpuPlanState& s : gpus) {
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
std::optional<int> choose_hold(const std::vector<GpuPlanState>& gpus, const QueuedJob& job) {
  auto usable = [&](int g) {
    const GpuPlanState& s = gpus[g];
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

std::int64_t best_available(const std::vector<GpuPlanState>& gpus) {
  std::int64_t best = 0;
  for (const GpuPlanState& s : gpus) {
    if (s.known && !s.held_by_priority) best = std::max(best, s.available_mb);
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

Decisions plan(const Snapshot& snap) {
  std::vector<GpuPlanState> gpus;
  gpus.reserve(snap.gpus.size());
  for (const GpuView& g : snap.gpus) {
    gpus.push_back({.available_mb = g.known ? available_mb(g, snap.config.buffer_mb) : kNoFit,
                    .known = g.known,
                    .capacity_mb = g.total_mb - snap.config.buffer_mb,
                    .held_by_priority = std::nullopt});
  }

  Decisions out;
  out.pending.reserve(snap.queue.size());
  int position = 0;
  // Changes only when a start or a hold changes a GPU: recomputed then, not for every job.
  std::int64_t best = best_available(gpus);
  for (const QueuedJob& job : snap.queue) {
    if (snap.draining) {
      out.pending.push_back({.job = job.id,
                             .position = position++,
                             .reason = PendingReason::draining,
                             .held_gpu = std::nullopt,
                             .best_available_mb = best});
      continue;
    }
    if (int g = best_fit(gpus, job.vram_mb); g >= 0) {
      std::int64_t before = gpus[g].available_mb;
      gpus[g].available_mb -= job.vram_mb;
      out.starts.push_back({.job = job.id,
                            .gpu = snap.gpus[g].index,
                            .available_mb = before,
                            .leftover_mb = gpus[g].available_mb});
      best = best_available(gpus);
      continue;
    }
    PendingDecision pending{.job = job.id,
                            .position = position++,
                            .reason = why_pending(gpus, job),
                            .held_gpu = std::nullopt,
                            .best_available_mb = best};
    if (snap.now_ms - job.queued_at_ms >= snap.config.backfill_bound_ms) {
      // Starving: hold one GPU so that nothing behind this job takes its room.
      if (auto hold = choose_hold(gpus, job)) {
        gpus[*hold].held_by_priority = job.priority;
        pending.held_gpu = *hold;
        best = best_available(gpus);
      }
    }
    out.pending.push_back(pending);
  }
  return out;
}

}  // namespace vramq::core
