#pragma once
// Reclaim (issue 24): when a queued job whose start its owner's guarantee covers waits for
// VRAM that borrowed jobs hold, which of those jobs to stop so that it fits. Pure; no I/O.
//
// Rules (after Kueue's reclaimWithinCohort and KAI's reclaim): only borrowed, preemptible jobs
// of other owners are taken (a guaranteed job never is); on each GPU the fewest that make room,
// and among sets of that many the one that takes the lowest priorities, then the newest jobs;
// among GPUs the one that costs the fewest victims, then the least memory taken, wins; a claim that
// would not fit even with every borrowed job gone takes nothing (as worker eviction). A multi-GPU
// claimant needs that many GPUs made to fit.

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "core/job.hpp"
#include "core/scheduler.hpp"

namespace vramq::core {

// A running job as reclaim sees it.
struct ReclaimRun {
  JobId job = 0;
  std::uint32_t owner = 0;
  int priority = 0;
  std::int64_t started_at_ms = 0;
  std::vector<int> gpus;     // GpuView indexes
  std::int64_t vram_mb = 0;  // what stopping it frees on each of its GPUs
  bool reclaimable = false;  // borrowed and preemptible
};

// GPUs held for jobs waiting past the backfill bound (core::Planner's holds): a hold for a job
// that would start above its owner's guarantee gives way to a guarantee (`overridden`: its
// free room may be claimed, even with no victims); any other hold is respected (`respected`:
// not claimed at all).
struct Holds {
  std::vector<int> respected;
  std::vector<int> overridden;
};

struct Reclaim {
  std::vector<int> gpus;       // where the claimant will start, in index order
  std::vector<JobId> victims;  // to stop, in the order chosen
  std::int64_t freed_mb = 0;   // summed over victims and their GPUs on `gpus`
};

// The victims that would let `claimant` start (none when the room it needs is free but held
// for a borrower), or nullopt when it fits now on GPUs nobody holds (nothing to reclaim) or
// would not fit even with every reclaimable job gone.
std::optional<Reclaim> plan_reclaim(const QueuedJob& claimant, std::span<const GpuView> gpus,
                                    std::int64_t buffer_mb, std::span<const ReclaimRun> runs,
                                    const Holds& holds = {});

// Whether a job that waits for this reason waits for room a reclaim could make (VRAM, a hold,
// or a claim of its own under way).
bool waits_for_room(PendingReason reason);

// Which of an owner's running jobs are borrowed now: taken in start order, each one that would
// take what they hold past `guarantee_mb` is (none when the owner has no guarantee). Jobs that
// ended give their room to later ones, so a job started borrowed can become guaranteed.
// `mbs` and `started` are parallel (one entry per running job of the owner or pool); the result
// is parallel to them.
std::vector<bool> borrowed_now(std::optional<std::int64_t> guarantee_mb,
                               std::span<const std::int64_t> mbs,
                               std::span<const std::int64_t> started);

}  // namespace vramq::core
