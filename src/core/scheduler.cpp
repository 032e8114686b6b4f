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

// Rank for a job of `count` GPUs: the `count` known, unheld GPUs with room that are left with the
// least (best fit; ties to the lower index), in index order; empty when fewer have room.
std::vector<int> best_fits(const std::vector<GpuState>& gpus, std::int64_t need_mb, int count) {
  std::vector<int> fit;
  for (int g = 0; g < static_cast<int>(gpus.size()); ++g) {
    const GpuState& s = gpus[g];
    if (s.known && !s.held_by_priority && s.available_mb >= need_mb) fit.push_back(g);
  }
  if (static_cast<int>(fit.size()) < count) return {};
  std::ranges::stable_sort(fit, {}, [&](int g) { return gpus[g].available_mb; });
  fit.resize(static_cast<std::size_t>(count));
  std::ranges::sort(fit);
  return fit;
}

// Why a job that did not start waits: GPUs held for others would make up its count, then GPUs
// without a reading could, else plain lack of VRAM. (For one GPU: a held GPU it would fit on,
// then an unknown GPU it could use.)
PendingReason why_pending(const std::vector<GpuState>& gpus, const QueuedJob& job) {
  int fit_now = 0;
  int held_fit = 0;
  int unknown_could = 0;
  bool higher_priority_holds = false;
  for (const GpuState& s : gpus) {
    if (!s.known) {
      unknown_could += s.capacity_mb >= job.vram_mb ? 1 : 0;
    } else if (s.available_mb >= job.vram_mb) {
      if (s.held_by_priority) {
        ++held_fit;
        higher_priority_holds = higher_priority_holds || *s.held_by_priority > job.priority;
      } else {
        ++fit_now;
      }
    }
  }
  int count = std::max(1, job.gpus);
  if (held_fit > 0 && fit_now + held_fit >= count)
    return higher_priority_holds ? PendingReason::priority : PendingReason::head_of_line;
  if (unknown_could > 0 && fit_now + held_fit + unknown_could >= count)
    return PendingReason::gpu_unknown;
  return PendingReason::vram;
}

// The GPUs to hold for a starving job: its earlier holds that are still usable, then the known,
// unheld GPUs that could ever hold it and are closest to having room now; none when fewer than
// its count are usable (it could not start on them anyway).
std::vector<int> choose_holds(const std::vector<GpuState>& gpus, const QueuedJob& job) {
  auto usable = [&](int g) {
    const GpuState& s = gpus[g];
    return s.known && !s.held_by_priority && s.capacity_mb >= job.vram_mb;
  };
  auto count = static_cast<std::size_t>(std::max(1, job.gpus));
  std::vector<int> held;
  for (int g : job.held_gpus) {
    if (g >= 0 && g < static_cast<int>(gpus.size()) && usable(g) && held.size() < count &&
        std::ranges::find(held, g) == held.end()) {
      held.push_back(g);
    }
  }
  std::vector<int> rest;
  for (int g = 0; g < static_cast<int>(gpus.size()); ++g) {
    if (usable(g) && std::ranges::find(held, g) == held.end()) rest.push_back(g);
  }
  std::ranges::stable_sort(rest, std::greater<>{}, [&](int g) { return gpus[g].available_mb; });
  for (int g : rest) {
    if (held.size() == count) break;
    held.push_back(g);
  }
  if (held.size() < count) return {};
  std::ranges::sort(held);
  return held;
}

}  // namespace

bool queue_before(const QueuedJob& a, const QueuedJob& b) {
  if (a.priority != b.priority) return a.priority > b.priority;
  return a.id < b.id;
}

std::int64_t available_mb(const GpuView& gpu, std::int64_t buffer_mb) {
  return gpu.total_mb - gpu.committed_mb - gpu.foreign_mb - buffer_mb;
}

bool fits_ever(std::int64_t vram_mb, std::span<const GpuView> gpus, std::int64_t buffer_mb,
               int count) {
  return std::ranges::count_if(gpus, [&](const GpuView& g) {
           return g.total_mb - buffer_mb >= vram_mb;
         }) >= std::max(1, count);
}

std::vector<int> StartDecision::all_gpus() const {
  std::vector<int> out{gpu};
  out.insert(out.end(), other_gpus.begin(), other_gpus.end());
  std::ranges::sort(out);
  return out;
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
                                       .held_gpus = {},
                                       .best_available_mb = best_}};
  }
  // Fast path for the long tail of a queue that does not fit anywhere: no GPU scan per job.
  bool may_fit = most_ && *most_ >= job.vram_mb;
  if (job.gpus <= 1) {
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
  } else if (may_fit) {
    if (std::vector<int> fit = best_fits(gpus_, job.vram_mb, job.gpus); !fit.empty()) {
      StartDecision start{.job = job.id,
                          .gpu = index_[fit[0]],
                          .available_mb = gpus_[fit[0]].available_mb,
                          .leftover_mb = gpus_[fit[0]].available_mb - job.vram_mb};
      for (int g : fit) {
        gpus_[g].available_mb -= job.vram_mb;
        if (g != fit[0]) start.other_gpus.push_back(index_[g]);
      }
      refresh_best();
      return {.start = std::move(start), .pending = std::nullopt};
    }
  }
  PendingDecision pending{
      .job = job.id,
      .position = position_++,
      .reason = plain_vram_ && job.gpus <= 1 ? PendingReason::vram : why_pending(gpus_, job),
      .held_gpus = {},
      .best_available_mb = best_};
  if (now_ms_ - job.queued_at_ms >= config_.backfill_bound_ms) {
    // Starving: hold its GPUs so that nothing behind this job takes their room.
    std::vector<int> hold = choose_holds(gpus_, job);
    for (int g : hold)
      gpus_[g].held_by_priority = job.priority;
    if (!hold.empty()) {
      plain_vram_ = false;
      pending.held_gpus = std::move(hold);
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
