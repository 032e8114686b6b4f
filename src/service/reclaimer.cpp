#include "service/reclaimer.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace vramq::service {
namespace {

// Beyond the grace: time for the stopped jobs' exits to be read and the next GPU reading to
// show their memory gone.
constexpr std::int64_t kMarginMs = 15'000;

}  // namespace

void Reclaimer::keep_room(std::vector<core::GpuView>& views) const {
  for (int g : claim_->gpus) {
    if (g >= 0 && g < static_cast<int>(views.size())) {
      views[static_cast<std::size_t>(g)].committed_mb += claim_->claimant.vram_mb;
    }
  }
}

std::optional<Reclaimer::Start> Reclaimer::before_pass(bool queued,
                                                       std::vector<core::GpuView>& views,
                                                       std::int64_t buffer_mb,
                                                       std::int64_t now_ms) {
  if (!claim_) return std::nullopt;
  if (!queued) {
    claim_.reset();  // it started in an earlier pass, or was cancelled
    return std::nullopt;
  }
  bool room = std::ranges::all_of(claim_->gpus, [&](int g) {
    return g >= 0 && g < static_cast<int>(views.size()) &&
           views[static_cast<std::size_t>(g)].known &&
           core::available_mb(views[static_cast<std::size_t>(g)], buffer_mb) >=
               claim_->claimant.vram_mb;
  });
  if (room) {
    Start start{.job = claim_->claimant.id, .gpus = claim_->gpus};
    claim_.reset();
    return start;
  }
  if (now_ms > claim_->until_ms) {
    spdlog::warn("job {}: the room reclaimed for it on GPU {} did not come free; claim dropped",
                 claim_->claimant.id, fmt::join(claim_->gpus, ","));
    claim_.reset();
    return std::nullopt;
  }
  keep_room(views);
  return std::nullopt;
}

std::optional<Reclaimer::Claim> Reclaimer::make(std::span<const core::QueuedJob> candidates,
                                                std::vector<core::GpuView>& views,
                                                std::int64_t buffer_mb,
                                                std::span<const core::ReclaimRun> runs,
                                                const core::Holds& holds, std::int64_t now_ms) {
  if (claim_) return std::nullopt;
  for (const core::QueuedJob& c : candidates) {
    std::optional<core::Reclaim> r = core::plan_reclaim(c, views, buffer_mb, runs, holds);
    if (!r) continue;
    claim_ = Claim{.claimant = c,
                   .gpus = std::move(r->gpus),
                   .victims = std::move(r->victims),
                   .since_ms = now_ms,
                   .until_ms = now_ms + grace_ms_ + kMarginMs};
    if (!claim_->victims.empty()) keep_room(views);
    return claim_;
  }
  return std::nullopt;
}

}  // namespace vramq::service
