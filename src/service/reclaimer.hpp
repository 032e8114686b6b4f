#pragma once
// Reclaim as the server runs it (issue 24; the rules are core/reclaim.hpp's). One claim at a
// time: a queued job whose start its owner's guarantee covers, waiting for VRAM that borrowed
// preemptible jobs of other owners hold, claims room on the GPUs where that costs least; those
// jobs are stopped (SIGTERM, --preempt-grace-s, SIGKILL) and queued again. Until the claimant
// starts, its room is kept out of every pass (added to its GPUs' committed memory), so neither
// the stopped jobs nor anyone else can take it back: no preemption loop. The claimant starts
// as soon as its room is free, ahead of the pass. A claim ends when the claimant starts or
// leaves the queue, or when its room has not come by the grace plus a margin (memory the
// stopped jobs did not account for); the next pass may claim again. Loop only; no I/O.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/reclaim.hpp"
#include "core/scheduler.hpp"

namespace vramq::service {

class Reclaimer {
 public:
  struct Claim {
    core::QueuedJob claimant;
    std::vector<int> gpus;  // where it will start
    std::vector<core::JobId> victims;
    std::int64_t since_ms = 0;
    std::int64_t until_ms = 0;  // dropped if its room has not come by then
  };

  explicit Reclaimer(std::int64_t grace_ms) : grace_ms_(grace_ms) {}

  const std::optional<Claim>& claim() const { return claim_; }

  // Before a pass, with the claimant `queued` (false: it left the queue) and `views` as they
  // are now: the claimant and the GPUs to start it on when its room is free there now (the
  // claim ends); else its room is added to `views` so the pass gives it to nobody else. A claim
  // whose claimant left, or past its time, ends here.
  struct Start {
    core::JobId job = 0;
    std::vector<int> gpus;
  };
  std::optional<Start> before_pass(bool queued, std::vector<core::GpuView>& views,
                                   std::int64_t buffer_mb, std::int64_t now_ms);

  // With no claim: the first of `candidates` (queued jobs in queue order, each covered by its
  // owner's guarantee and waiting for VRAM) for which stopping some of `runs` makes room. The
  // claim is made (its room kept out of `views` from now) and returned, with its victims.
  // A claim with no victims (its room is free, held for a borrower: core::Holds) keeps no room:
  // the next before_pass() starts its claimant.
  std::optional<Claim> make(std::span<const core::QueuedJob> candidates,
                            std::vector<core::GpuView>& views, std::int64_t buffer_mb,
                            std::span<const core::ReclaimRun> runs, const core::Holds& holds,
                            std::int64_t now_ms);

 private:
  std::int64_t grace_ms_ = 0;
  std::optional<Claim> claim_;
  void keep_room(std::vector<core::GpuView>& views) const;
};

}  // namespace vramq::service
