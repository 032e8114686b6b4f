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

// The same pass with 100,000 jobs from 50 owners (issue 24), against room on the GPUs for many
// of them. range(1) = 0: no owner has limits (today's pass, the reference); 1: every owner has a
// quota, a limit and max_running that do not bind yet; 2: every owner is at its max_running
// (nothing may start, whatever fits); 3: all but the last owner are at their max_running and
// the last owner's jobs come last in the queue; 4: as 1, with fair share ordering the owners
// (each a different share).
void BM_QueuePassOwners(benchmark::State& state) {
  const auto queued = static_cast<std::int64_t>(state.range(0));
  const int mode = static_cast<int>(state.range(1));
  constexpr std::uint32_t kOwners = 50;
  std::mt19937 rng(42);
  std::uniform_int_distribution<std::int64_t> vram(1024, 8192);
  vramq::core::JobQueue queue;
  for (std::int64_t i = 1; i <= queued; ++i) {
    std::uint32_t owner =
        mode == 3 ? (i > queued - 100 ? kOwners : 1 + static_cast<std::uint32_t>(i % (kOwners - 1)))
                  : 1 + static_cast<std::uint32_t>(i % kOwners);
    queue.push({.id = i, .priority = 0, .vram_mb = vram(rng), .queued_at_ms = i, .owner = owner},
               {});
  }
  std::vector<GpuView> views;
  for (int g = 0; g < 8; ++g)
    views.push_back({.index = g, .total_mb = 81920, .committed_mb = 0, .foreign_mb = 0});
  vramq::core::QuotaView quotas;
  std::vector<double> shares;
  if (mode == 4) {
    for (std::uint32_t o = 0; o <= kOwners; ++o)
      shares.push_back(static_cast<double>((o * 7919) % 101));
  }
  if (mode > 0) {
    quotas.owners.resize(kOwners + 1);
    for (std::uint32_t o = 1; o <= kOwners; ++o) {
      bool blocked = mode == 2 || (mode == 3 && o < kOwners);
      quotas.owners[o] = {.quota_mb = 40960,
                          .limit_mb = 1 << 20,
                          .max_running = 4,
                          .group = -1,
                          .held_mb = blocked ? 16384 : 0,
                          .running = blocked ? 4 : 0};
    }
  }
  for (auto _ : state) {
    vramq::core::Planner planner(views, 1'000, {.buffer_mb = 1024, .backfill_bound_ms = 300'000},
                                 false, queue.min_vram_mb());
    if (!quotas.empty()) planner.use_quotas(quotas);
    auto starts = queue.pass(std::move(planner), shares);
    benchmark::DoNotOptimize(starts);
  }
  constexpr const char* kModes[] = {"no limits", "50 owners, limits not binding",
                                    "50 owners, all at max_running",
                                    "49 owners at max_running, the free one's jobs last",
                                    "50 owners, limits not binding, fair share"};
  state.SetLabel(std::to_string(queued) + " queued, 8 GPUs, " + kModes[mode]);
}

BENCHMARK(BM_QueuePassOwners)
    ->ArgsProduct({{100'000}, {0, 1, 2, 3, 4}})
    ->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
