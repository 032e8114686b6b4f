// Time of one scheduling event. BM_Plan: core::plan() over a queue of N jobs and G GPUs (the
// whole queue, every job examined and given a pending reason: what dry runs and tests call).
// BM_QueuePass: the pass the orchestrator runs on every submit, exit and reading.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <random>
#include <vector>

#include "core/job_queue.hpp"
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

// What the server runs per event: a JobQueue pass, which stops once no later job can start.
// range(2) = 0: a typical full GPU (every queued job needs more than is free: the pass stops at
// once); 1: the only job that fits is the last in the queue (a walk job by job would visit all of
// them); 2: the same, with every job waiting past the backfill bound (each may hold a GPU).
void BM_QueuePass(benchmark::State& state) {
  const auto queued = static_cast<std::int64_t>(state.range(0));
  const int gpus = static_cast<int>(state.range(1));
  const bool worst = state.range(2) >= 1;
  const bool starving = state.range(2) == 2;
  std::mt19937 rng(42);
  std::uniform_int_distribution<std::int64_t> vram(2048, 20480);
  std::uniform_int_distribution<int> prio(0, 3);
  vramq::core::JobQueue queue;
  for (std::int64_t i = 1; i <= queued; ++i) {
    bool last = i == queued;
    queue.push({.id = i,
                .priority = last ? -1 : prio(rng),
                .vram_mb = worst && last ? 1024 : vram(rng),
                .queued_at_ms = i},
               {});
  }
  std::vector<GpuView> views;
  for (int g = 0; g < gpus; ++g) {
    views.push_back({.index = g, .total_mb = 24576, .committed_mb = 22000, .foreign_mb = 0});
  }
  for (auto _ : state) {
    auto starts = queue.pass(vramq::core::Planner(views, starving ? 10'000'000 : 1'000,
                                                  {.buffer_mb = 1024, .backfill_bound_ms = 300'000},
                                                  false, queue.min_vram_mb()));
    benchmark::DoNotOptimize(starts);
  }
  state.SetLabel(std::to_string(queued) + " queued, " + std::to_string(gpus) + " GPUs, " +
                 (worst ? "only the last job fits" : "nothing fits") +
                 (starving ? ", all starving" : ""));
}

BENCHMARK(BM_QueuePass)
    ->ArgsProduct({{1'000, 10'000, 100'000}, {1, 8}, {0, 1, 2}})
    ->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
