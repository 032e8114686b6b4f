#include "core/worker_eviction.hpp"

#include <algorithm>
#include <tuple>

namespace vramq::core {

std::string_view to_string(WorkerState s) {
  constexpr std::string_view kNames[] = {"starting", "idle", "busy", "unloading"};
  return kNames[static_cast<int>(s)];
}

std::optional<std::vector<GpuEviction>> choose_eviction(std::int64_t need_mb, int count,
                                                        std::span<const GpuView> gpus,
                                                        std::int64_t buffer_mb,
                                                        std::span<const WorkerSlot> workers) {
  if (count < 1) return std::nullopt;
  std::vector<GpuEviction> possible;
  for (const GpuView& g : gpus) {
    if (!g.known) continue;
    std::vector<const WorkerSlot*> idle;
    for (const WorkerSlot& w : workers) {
      if (w.gpu == g.index && w.state == WorkerState::idle) idle.push_back(&w);
    }
    // Least recently used first; the id breaks ties so that the choice is deterministic.
    std::ranges::sort(idle, [](const WorkerSlot* a, const WorkerSlot* b) {
      return std::tie(a->last_used_ms, a->id) < std::tie(b->last_used_ms, b->id);
    });
    std::int64_t room = available_mb(g, buffer_mb);
    GpuEviction e{.gpu = g.index, .workers = {}, .freed_mb = 0};
    for (const WorkerSlot* w : idle) {
      if (room + e.freed_mb >= need_mb) break;
      e.workers.push_back(w->id);
      e.freed_mb += w->held_mb;
    }
    if (room + e.freed_mb >= need_mb) possible.push_back(std::move(e));
  }
  if (static_cast<int>(possible.size()) < count) return std::nullopt;
  // The cheapest: least memory freed, then fewest workers unloaded, then the lowest index.
  std::ranges::sort(possible, [](const GpuEviction& a, const GpuEviction& b) {
    return std::tuple(a.freed_mb, a.workers.size(), a.gpu) <
           std::tuple(b.freed_mb, b.workers.size(), b.gpu);
  });
  possible.resize(static_cast<std::size_t>(count));
  std::ranges::sort(possible, {}, &GpuEviction::gpu);
  return possible;
}

}  // namespace vramq::core
