#include "core/reclaim.hpp"

#include <algorithm>
#include <functional>
#include <numeric>
#include <tuple>

namespace vramq::core {
namespace {

struct GpuCost {
  int gpu = 0;
  std::vector<JobId> victims;
  std::int64_t freed_mb = 0;
};

// The fewest reclaimable jobs on one GPU that make `need_mb` fit there, and of those sets the one
// that prefers the lowest priority, then the newest; nullopt when even all of them would not.
std::optional<GpuCost> cost_on(const GpuView& g, std::int64_t buffer_mb, std::int64_t need_mb,
                               std::uint32_t claimant_owner, std::span<const ReclaimRun> runs) {
  if (!g.known) return std::nullopt;
  std::int64_t free = available_mb(g, buffer_mb);
  GpuCost out{.gpu = g.index};
  if (free >= need_mb) return out;
  std::vector<const ReclaimRun*> candidates;
  for (const ReclaimRun& r : runs) {
    if (r.reclaimable && r.owner != claimant_owner && std::ranges::count(r.gpus, g.index) > 0) {
      candidates.push_back(&r);
    }
  }
  std::ranges::sort(candidates, [](const ReclaimRun* a, const ReclaimRun* b) {
    return std::tuple(a->priority, -a->started_at_ms, -a->job) <
           std::tuple(b->priority, -b->started_at_ms, -b->job);
  });
  // The fewest: the smallest k whose k largest candidates make room.
  std::int64_t deficit = need_mb - free;
  std::vector<std::int64_t> sizes;
  sizes.reserve(candidates.size());
  for (const ReclaimRun* r : candidates)
    sizes.push_back(r->vram_mb);
  std::ranges::sort(sizes, std::greater<>());
  std::size_t k = 0;
  for (std::int64_t sum = 0; k < sizes.size() && sum < deficit; ++k)
    sum += sizes[k];
  if (std::accumulate(sizes.begin(), sizes.begin() + static_cast<std::ptrdiff_t>(k),
                      std::int64_t{0}) < deficit) {
    return std::nullopt;  // not even all of them
  }
  // Of the sets of k that make room, the one that takes the most preferred victims: each
  // candidate in preference order is taken if k can still be filled with enough from those after
  // it (their largest).
  std::vector<const ReclaimRun*> chosen;
  std::int64_t freed = 0;
  for (std::size_t i = 0; i < candidates.size() && chosen.size() < k; ++i) {
    std::size_t slots = k - chosen.size() - 1;
    std::vector<std::int64_t> later;
    for (std::size_t j = i + 1; j < candidates.size(); ++j)
      later.push_back(candidates[j]->vram_mb);
    std::ranges::sort(later, std::greater<>());
    std::int64_t best_rest = std::accumulate(
        later.begin(), later.begin() + static_cast<std::ptrdiff_t>(std::min(slots, later.size())),
        std::int64_t{0});
    if (freed + candidates[i]->vram_mb + best_rest >= deficit) {
      chosen.push_back(candidates[i]);
      freed += candidates[i]->vram_mb;
    }
  }
  for (const ReclaimRun* r : chosen)
    out.victims.push_back(r->job);
  out.freed_mb = freed;
  return out;
}

}  // namespace

std::optional<Reclaim> plan_reclaim(const QueuedJob& claimant, std::span<const GpuView> gpus,
                                    std::int64_t buffer_mb, std::span<const ReclaimRun> runs,
                                    const Holds& holds) {
  std::size_t count = static_cast<std::size_t>(std::max(1, claimant.gpus));
  auto in = [](const std::vector<int>& v, int g) { return std::ranges::count(v, g) > 0; };
  // It fits now where nobody holds: the pass starts it; nothing to reclaim.
  std::size_t fits_now = 0;
  for (const GpuView& g : gpus) {
    bool held = in(holds.respected, g.index) || in(holds.overridden, g.index);
    if (g.known && !held && available_mb(g, buffer_mb) >= claimant.vram_mb) ++fits_now;
  }
  if (fits_now >= count) return std::nullopt;
  std::vector<GpuCost> costs;
  for (const GpuView& g : gpus) {
    if (in(holds.respected, g.index)) continue;
    if (auto c = cost_on(g, buffer_mb, claimant.vram_mb, claimant.owner, runs)) {
      costs.push_back(std::move(*c));
    }
  }
  if (costs.size() < count) return std::nullopt;
  std::ranges::sort(costs, [](const GpuCost& a, const GpuCost& b) {
    return std::tuple(a.victims.size(), a.freed_mb, a.gpu) <
           std::tuple(b.victims.size(), b.freed_mb, b.gpu);
  });
  costs.resize(count);
  Reclaim out;
  for (const GpuCost& c : costs) {
    out.gpus.push_back(c.gpu);
    out.freed_mb += c.freed_mb;
    for (JobId v : c.victims) {
      if (std::ranges::count(out.victims, v) == 0) out.victims.push_back(v);
    }
  }
  std::ranges::sort(out.gpus);
  return out;
}

bool waits_for_room(PendingReason r) {
  return r == PendingReason::vram || r == PendingReason::head_of_line ||
         r == PendingReason::priority || r == PendingReason::reclaiming;
}

std::vector<bool> borrowed_now(std::optional<std::int64_t> guarantee_mb,
                               std::span<const std::int64_t> mbs,
                               std::span<const std::int64_t> started) {
  std::vector<bool> out(mbs.size(), false);
  if (!guarantee_mb) return out;
  std::vector<std::size_t> order(mbs.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::ranges::stable_sort(order,
                           [&](std::size_t a, std::size_t b) { return started[a] < started[b]; });
  std::int64_t held = 0;
  for (std::size_t i : order) {
    held += mbs[i];
    out[i] = held > *guarantee_mb;
  }
  return out;
}

}  // namespace vramq::core
