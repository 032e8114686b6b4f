#include "core/start_prediction.hpp"

#include <algorithm>
#include <functional>
#include <queue>
#include <utility>
#include <vector>

namespace vramq::core {
namespace {

struct End {
  std::int64_t at_ms = 0;
  int gpu = 0;
  std::int64_t mb = 0;
  bool operator>(const End& o) const { return at_ms > o.at_ms; }
};

// Best fit among known GPUs with room: the `count` left with the least; empty when fewer have it.
std::vector<int> best_fit(const std::vector<std::int64_t>& free,
                          std::span<const PredictionGpu> gpus, std::int64_t need, int count) {
  std::vector<int> fit;
  for (int g = 0; g < static_cast<int>(free.size()); ++g) {
    if (gpus[g].known && free[g] >= need) fit.push_back(g);
  }
  if (static_cast<int>(fit.size()) < std::max(1, count)) return {};
  std::ranges::stable_sort(fit, {}, [&](int g) { return free[g]; });
  fit.resize(static_cast<std::size_t>(std::max(1, count)));
  return fit;
}

}  // namespace

std::optional<std::int64_t> predict_start_ms(std::int64_t now_ms,
                                             std::span<const PredictionGpu> gpus,
                                             std::span<const PredictionRunning> running,
                                             std::span<const PredictionQueued> queue,
                                             std::size_t limit) {
  if (queue.empty()) return std::nullopt;
  std::vector<std::int64_t> free;
  for (const PredictionGpu& g : gpus)
    free.push_back(g.free_mb);
  std::priority_queue<End, std::vector<End>, std::greater<>> ends;
  for (const PredictionRunning& r : running) {
    if (r.gpu < 0 || r.gpu >= static_cast<int>(free.size())) continue;
    ends.push({.at_ms = std::max(r.end_ms, now_ms), .gpu = r.gpu, .mb = r.committed_mb});
  }
  std::int64_t t = now_ms;
  std::size_t simulated = std::min(queue.size(), limit);
  // The jobs ahead, then (when within the limit) the job itself, last.
  for (std::size_t i = 0; i < simulated; ++i) {
    const PredictionQueued& q = queue[i];
    std::vector<int> fit = best_fit(free, gpus, q.vram_mb, q.gpus);
    while (fit.empty()) {
      if (ends.empty()) return std::nullopt;  // fits nowhere, even with everything ended
      End e = ends.top();
      ends.pop();
      t = std::max(t, e.at_ms);
      free[e.gpu] += e.mb;
      fit = best_fit(free, gpus, q.vram_mb, q.gpus);
    }
    if (i + 1 == queue.size()) return t;
    for (int g : fit) {
      free[g] -= q.vram_mb;
      ends.push({.at_ms = t + std::max<std::int64_t>(q.duration_ms, 0), .gpu = g, .mb = q.vram_mb});
    }
  }
  // Past the limit: the jobs simulated started at this rate; the rest are assumed to go alike.
  // (t is when the last simulated job started: simulated - 1 starts after the first.)
  double per_job = simulated > 1
                       ? static_cast<double>(t - now_ms) / static_cast<double>(simulated - 1)
                       : static_cast<double>(queue[0].duration_ms);
  return now_ms + static_cast<std::int64_t>(per_job * static_cast<double>(queue.size() - 1));
}

}  // namespace vramq::core
