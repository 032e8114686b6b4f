// GPU packing in simulated time: one trace of model runs (Poisson arrivals; 40 % 2 GiB x 20 s,
// 30 % 6 GiB x 60 s, 20 % 12 GiB x 90 s, 10 % 20 GiB x 120 s) on simulated 24 GiB GPUs, replayed
// through the same core::plan() the server uses, and through the seed article's policy (a fixed
// number of slots per GPU derived from one per-run size, FIFO), with the lower bound
// sum(VRAM x time) / usable capacity. No sleeping: time jumps from event to event.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <queue>
#include <random>
#include <string>
#include <vector>

#include "core/scheduler.hpp"

namespace {

using vramq::core::GpuView;
using vramq::core::QueuedJob;

constexpr std::int64_t kGpuMb = 24576;
constexpr std::int64_t kBufferMb = 1024;

struct TraceJob {
  std::int64_t id;
  std::int64_t arrival_ms;
  std::int64_t vram_mb;
  std::int64_t duration_ms;
};

std::vector<TraceJob> make_trace(int n, double mean_gap_s, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::exponential_distribution<double> gap(1.0 / mean_gap_s);
  std::uniform_real_distribution<double> mix(0, 1);
  std::vector<TraceJob> trace;
  double t = 0;
  for (int i = 0; i < n; ++i) {
    t += gap(rng);
    double m = mix(rng);
    auto [vram, secs] = m < 0.4   ? std::pair{2048, 20}
                        : m < 0.7 ? std::pair{6144, 60}
                        : m < 0.9 ? std::pair{12288, 90}
                                  : std::pair{20480, 120};
    trace.push_back({i + 1, static_cast<std::int64_t>(t * 1000), vram, secs * 1000});
  }
  return trace;
}

struct Result {
  std::int64_t makespan_ms = 0;
  double utilisation = 0;        // mean used VRAM / usable capacity over the makespan
  std::int64_t overcommits = 0;  // starts after which a GPU held more than total - buffer
};

struct Running {
  std::int64_t end_ms;
  int gpu;
  std::int64_t vram_mb;
  bool operator>(const Running& o) const { return end_ms > o.end_ms; }
};

// The event loop shared by both policies: `admit(queue, used, now)` returns (job index, gpu)
// pairs to start now.
template <class Admit>
Result simulate(const std::vector<TraceJob>& trace, int gpus, Admit admit) {
  std::priority_queue<Running, std::vector<Running>, std::greater<>> running;
  std::vector<std::int64_t> used(static_cast<std::size_t>(gpus), 0);
  std::vector<std::size_t> queue;  // indexes into trace, FIFO
  std::size_t next = 0;
  std::int64_t now = 0;
  double vram_ms = 0;
  Result r;
  while (next < trace.size() || !queue.empty() || !running.empty()) {
    std::int64_t t_arrival = next < trace.size() ? trace[next].arrival_ms : INT64_MAX;
    std::int64_t t_end = running.empty() ? INT64_MAX : running.top().end_ms;
    std::int64_t t = std::min(t_arrival, t_end);
    for (std::int64_t u : used)
      vram_ms += static_cast<double>(u) * static_cast<double>(t - now);
    now = t;
    while (!running.empty() && running.top().end_ms == now) {
      used[static_cast<std::size_t>(running.top().gpu)] -= running.top().vram_mb;
      running.pop();
    }
    while (next < trace.size() && trace[next].arrival_ms == now)
      queue.push_back(next++);
    for (auto [index, gpu] : admit(queue, used, now)) {
      const TraceJob& j = trace[index];
      used[static_cast<std::size_t>(gpu)] += j.vram_mb;
      if (used[static_cast<std::size_t>(gpu)] + kBufferMb > kGpuMb) ++r.overcommits;
      running.push({now + j.duration_ms, gpu, j.vram_mb});
      std::erase(queue, index);
    }
  }
  r.makespan_ms = now;
  r.utilisation = vram_ms / (static_cast<double>(now) * gpus * (kGpuMb - kBufferMb));
  return r;
}

Result vramq_policy(const std::vector<TraceJob>& trace, int gpus, std::int64_t bound_ms) {
  return simulate(
      trace, gpus,
      [&](const std::vector<std::size_t>& queue, const std::vector<std::int64_t>& used,
          std::int64_t now) {
        std::vector<QueuedJob> q;
        for (std::size_t i : queue) {
          q.push_back({.id = trace[i].id,
                       .priority = 0,
                       .vram_mb = trace[i].vram_mb,
                       .queued_at_ms = trace[i].arrival_ms});
        }
        std::vector<GpuView> views;
        for (int g = 0; g < gpus; ++g) {
          views.push_back(
              {.index = g, .total_mb = kGpuMb, .committed_mb = used[static_cast<std::size_t>(g)]});
        }
        auto d =
            vramq::core::plan({.queue = q,
                               .gpus = views,
                               .now_ms = now,
                               .config = {.buffer_mb = kBufferMb, .backfill_bound_ms = bound_ms}});
        std::vector<std::pair<std::size_t, int>> starts;
        for (const auto& s : d.starts)
          starts.emplace_back(static_cast<std::size_t>(s.job - 1), s.gpu);
        return starts;
      });
}

// The seed: slots per GPU = (free - buffer) / size, fixed at start; FIFO; blind to real VRAM.
Result seed_policy(const std::vector<TraceJob>& trace, int gpus, std::int64_t size_mb) {
  int slots = static_cast<int>(std::max<std::int64_t>((kGpuMb - kBufferMb) / size_mb, 1));
  std::vector<int> taken(static_cast<std::size_t>(gpus), 0);
  std::priority_queue<std::pair<std::int64_t, int>, std::vector<std::pair<std::int64_t, int>>,
                      std::greater<>>
      frees;  // (end time, gpu)
  return simulate(trace, gpus,
                  [&](const std::vector<std::size_t>& queue, const std::vector<std::int64_t>&,
                      std::int64_t now) {
                    while (!frees.empty() && frees.top().first <= now) {
                      --taken[static_cast<std::size_t>(frees.top().second)];
                      frees.pop();
                    }
                    std::vector<std::pair<std::size_t, int>> starts;
                    for (std::size_t i : queue) {
                      auto g = std::ranges::min_element(taken) - taken.begin();
                      if (taken[static_cast<std::size_t>(g)] >= slots) break;
                      ++taken[static_cast<std::size_t>(g)];
                      frees.emplace(now + trace[i].duration_ms, static_cast<int>(g));
                      starts.emplace_back(i, static_cast<int>(g));
                    }
                    return starts;
                  });
}

}  // namespace

int main(int argc, char** argv) {
  int jobs = argc > 1 ? std::atoi(argv[1]) : 1000;
  int gpus = argc > 2 ? std::atoi(argv[2]) : 2;
  double gap_s = argc > 3 ? std::atof(argv[3]) : 5.0;
  std::int64_t backfill_s = argc > 4 ? std::atoll(argv[4]) : 300;
  auto trace = make_trace(jobs, gap_s, 7);
  double vram_s = 0;
  for (const auto& j : trace)
    vram_s += static_cast<double>(j.vram_mb) * j.duration_ms / 1000.0;
  double bound_s = vram_s / (gpus * static_cast<double>(kGpuMb - kBufferMb));
  // Also valid for any schedule that never over-commits: two runs each needing more than half
  // of a GPU's usable VRAM never share a GPU, so their total time spread over all GPUs bounds
  // the makespan; and no run ends before its arrival plus its duration.
  double big_s = 0;
  double last_end_s = 0;
  for (const auto& j : trace) {
    if (2 * j.vram_mb > kGpuMb - kBufferMb) big_s += static_cast<double>(j.duration_ms) / 1000.0;
    last_end_s = std::max(last_end_s, static_cast<double>(j.arrival_ms + j.duration_ms) / 1000.0);
  }
  double tight_s = std::max({bound_s, big_s / gpus, last_end_s});
  std::printf("trace: %d jobs, mean gap %.1f s, %d x 24 GiB GPUs, buffer %lld MiB\n", jobs, gap_s,
              gpus, static_cast<long long>(kBufferMb));
  std::printf(
      "| policy | makespan (s) | vs lower bound | vs tighter bound | mean VRAM use | "
      "over-commits |\n");
  std::printf("| --- | --- | --- | --- | --- | --- |\n");
  std::printf("| lower bound sum(VRAM x time) / capacity | %.0f | 1.00 | %.2f | 100 %% | - |\n",
              bound_s, bound_s / tight_s);
  std::printf(
      "| tighter bound: also runs over half a GPU never share one, and arrival + duration | %.0f "
      "| %.2f | 1.00 | - | - |\n",
      tight_s, tight_s / bound_s);
  auto row = [&](const std::string& name, const Result& r) {
    double s = static_cast<double>(r.makespan_ms) / 1000.0;
    std::printf("| %s | %.0f | %.2f | %.2f | %.0f %% | %lld |\n", name.c_str(), s, s / bound_s,
                s / tight_s, r.utilisation * 100, static_cast<long long>(r.overcommits));
  };
  row("vramq (plan(): VRAM-aware best fit, backfill bound " + std::to_string(backfill_s) + " s)",
      vramq_policy(trace, gpus, backfill_s * 1000));
  row("vramq without the starvation bound (unbounded backfill)",
      vramq_policy(trace, gpus, INT64_MAX / 2));
  row("seed, slots from 2 GiB per run (11 per GPU)", seed_policy(trace, gpus, 2048));
  row("seed, slots from 6 GiB per run (3 per GPU)", seed_policy(trace, gpus, 6144));
  row("seed, slots from 20 GiB per run (1 per GPU)", seed_policy(trace, gpus, 20480));
  return 0;
}
