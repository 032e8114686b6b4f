// Time of one scheduling event: core::plan() over a queue of N jobs and G GPUs, the way the
// orchestrator calls it on every submit, exit and reading. Worst case for the planner: the GPUs
// are nearly full, so almost every job is examined and gets a pending reason.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <random>
#include <vector>

#include "core/scheduler.hpp"

namespace {

using vramq::core::GpuView;
using vramq::core::QueuedJob;

void BM_Plan(benchmark::State& state) {
  const auto queued = static_cast<std::size_t>(state.range(0));
  const int gpus = static_cast<int>(state.range(1));
  std::mt19937 rng(42);
  std::uniform_int_distribution<std::int64_t> vram(1024, 20480);
  std::uniform_int_distribution<int> prio(0, 3);
  std::vector<QueuedJob> queue;
  queue.reserve(queued);
  for (std::size_t i = 0; i < queued; ++i) {
    queue.push_back({.id = static_cast<std::int64_t>(i + 1),
                     .priority = prio(rng),
                     .vram_mb = vram(rng),
                     .queued_at_ms = static_cast<std::int64_t>(i)});
  }
  std::ranges::sort(queue, vramq::core::queue_before);
  std::vector<GpuView> views;
  for (int g = 0; g < gpus; ++g) {
    views.push_back({.index = g, .total_mb = 24576, .committed_mb = 22000, .foreign_mb = 0});
  }
  for (auto _ : state) {
    auto d = vramq::core::plan({.queue = queue,
                                .gpus = views,
                                .now_ms = 1'000,
                                .config = {.buffer_mb = 1024, .backfill_bound_ms = 300'000}});
    benchmark::DoNotOptimize(d);
  }
  state.SetLabel(std::to_string(queued) + " queued, " + std::to_string(gpus) + " GPUs");
}

BENCHMARK(BM_Plan)->ArgsProduct({{1'000, 10'000, 100'000}, {1, 8}})->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
