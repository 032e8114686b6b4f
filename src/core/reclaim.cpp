#include "core/reclaim.hpp"

#include <algorithm>
#include <numeric>
#include <tuple>

namespace vramq::core {
namespace {

struct GpuCost {
  int gpu = 0;
  std::vector<JobId> victims;
  std::int64_t freed_mb = 0;
};

// The fewest reclaimable jobs on one GPU that make `need_mb` fit there, preferring the lowest
// priority and the newest; nullopt when even all of them would not.
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
  std::vector<const ReclaimRun*> chosen;
  std::int64_t freed = 0;
  for (const ReclaimRun* r : candidates) {
    if (free + freed >= need_mb) break;
    chosen.push_back(r);
    freed += r->vram_mb;
  }
  if (free + freed < need_mb) return std::nullopt;
  // Spare what the room does not need, the most protected (taken last) first.
  for (std::size_t i = chosen.size(); i-- > 0;) {
    if (free + freed - chosen[i]->vram_mb >= need_mb) {
      freed -= chosen[i]->vram_mb;
      chosen.erase(chosen.begin() + static_cast<std::ptrdiff_t>(i));
    }
  }
  for (const ReclaimRun* r : chosen)
    out.victims.push_back(r->job);
  out.freed_mb = freed;
  return out;
}

}  // namespace

std::optional<Reclaim> plan_reclaim(const QueuedJob& claimant, std::span<const GpuView> gpus,
                                    std::int64_t buffer_mb, std::span<const ReclaimRun> runs) {
  std::size_t count = static_cast<std::size_t>(std::max(1, claimant.gpus));
  std::vector<GpuCost> costs;
  for (const GpuView& g : gpus) {
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
  if (out.victims.empty()) return std::nullopt;  // it fits without taking anything
  std::ranges::sort(out.gpus);
  return out;
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
