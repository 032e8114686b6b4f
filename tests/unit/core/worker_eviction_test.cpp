// The eviction choice for warm workers: examples, then a randomized property test against
// oracles that do not trust the function's own bookkeeping (issue 12).
#include "core/worker_eviction.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>

namespace vramq::core {
namespace {

GpuView gpu(int index, std::int64_t total, std::int64_t committed, bool known = true) {
  return {.index = index,
          .total_mb = total,
          .committed_mb = committed,
          .foreign_mb = 0,
          .known = known};
}

WorkerSlot worker(WorkerId id, int g, std::int64_t mb, std::int64_t used,
                  WorkerState state = WorkerState::idle) {
  return {.id = id, .gpu = g, .state = state, .held_mb = mb, .last_used_ms = used};
}

TEST(WorkerEviction, LeastRecentlyUsedFirstAndNoMoreThanItTakes) {
  // 24 GiB, two idle workers of 10 GiB each: a 12 GiB job needs one gone, the older one.
  std::vector<GpuView> gpus{gpu(0, 24576, 20480)};
  std::vector<WorkerSlot> w{worker(1, 0, 10240, 500), worker(2, 0, 10240, 100)};
  auto e = choose_eviction(12288, 1, gpus, 0, w);
  ASSERT_TRUE(e);
  ASSERT_EQ(e->size(), 1u);
  EXPECT_EQ((*e)[0].workers, (std::vector<WorkerId>{2}));
  EXPECT_EQ((*e)[0].freed_mb, 10240);
}

TEST(WorkerEviction, StateNames) {
  EXPECT_EQ(to_string(WorkerState::starting), "starting");
  EXPECT_EQ(to_string(WorkerState::unloading), "unloading");
}

TEST(WorkerEviction, NothingWhenNothingHelps) {
  std::vector<GpuView> gpus{gpu(0, 24576, 20480)};
  std::vector<WorkerSlot> w{worker(1, 0, 10240, 1), worker(2, 0, 10240, 2)};
  EXPECT_FALSE(choose_eviction(30000, 1, gpus, 0, w)) << "larger than the GPU";
  // Only a busy worker would make room: never evicted.
  std::vector<WorkerSlot> busy{worker(1, 0, 10240, 1, WorkerState::busy),
                               worker(2, 0, 10240, 2, WorkerState::starting)};
  EXPECT_FALSE(choose_eviction(12288, 1, gpus, 0, busy));
  std::vector<WorkerSlot> going{worker(1, 0, 10240, 1, WorkerState::unloading)};
  EXPECT_FALSE(choose_eviction(12288, 1, std::vector<GpuView>{gpu(0, 24576, 20480)}, 0, going))
      << "a worker already unloading frees its memory only once it is gone";
  EXPECT_FALSE(choose_eviction(1000, 1, std::vector<GpuView>{gpu(0, 24576, 24576, false)}, 0,
                               std::vector<WorkerSlot>{worker(1, 0, 10240, 1)}))
      << "a GPU without a reading is never used";
}

TEST(WorkerEviction, TheCheapestGpuAndAFitNeedsNoEviction) {
  std::vector<GpuView> gpus{gpu(0, 24576, 20480), gpu(1, 24576, 16384), gpu(2, 24576, 0)};
  std::vector<WorkerSlot> w{worker(1, 0, 20480, 1), worker(2, 1, 8192, 1), worker(3, 1, 8192, 2)};
  auto two = choose_eviction(12288, 2, gpus, 0, w);
  ASSERT_TRUE(two);
  ASSERT_EQ(two->size(), 2u);
  EXPECT_EQ((*two)[0].gpu, 1);  // frees 8 GiB, cheaper than GPU 0's 20 GiB
  EXPECT_EQ((*two)[0].workers, (std::vector<WorkerId>{2}));
  EXPECT_EQ((*two)[1].gpu, 2);  // fits already
  EXPECT_TRUE((*two)[1].workers.empty());
  EXPECT_FALSE(choose_eviction(12288, 4, gpus, 0, w)) << "only three GPUs";
  EXPECT_EQ((*choose_eviction(12288, 3, gpus, 1024, w))[0].workers.size(), 1u)
      << "the buffer counts: GPU 0 needs its worker gone";
}

// Random worlds: GPUs with committed memory (some of it workers'), workers in every state.
TEST(WorkerEvictionProperty, OnlySetsThatMakeItFitLruPrefixNeverBusyNothingWhenImpossible) {
  std::mt19937_64 rng(20261129);
  for (int world = 0; world < 20000; ++world) {
    int n_gpus = std::uniform_int_distribution<int>(1, 4)(rng);
    std::vector<GpuView> gpus;
    std::vector<WorkerSlot> workers;
    WorkerId next = 1;
    for (int g = 0; g < n_gpus; ++g) {
      std::int64_t total = std::uniform_int_distribution<int>(8, 80)(rng) * 1024;
      std::int64_t committed = 0;
      int n_workers = std::uniform_int_distribution<int>(0, 5)(rng);
      for (int i = 0; i < n_workers; ++i) {
        std::int64_t mb = std::uniform_int_distribution<int>(1, 12)(rng) * 1024;
        if (committed + mb > total) break;
        committed += mb;
        auto state = static_cast<WorkerState>(std::uniform_int_distribution<int>(0, 3)(rng));
        workers.push_back(
            worker(next++, g, mb, std::uniform_int_distribution<int>(0, 50)(rng), state));
      }
      committed += std::uniform_int_distribution<std::int64_t>(0, total - committed)(rng) / 2;
      gpus.push_back(gpu(g, total, committed, rng() % 10 != 0));
    }
    std::int64_t need = std::uniform_int_distribution<int>(1, 40)(rng) * 1024;
    int count = std::uniform_int_distribution<int>(1, 3)(rng);
    std::int64_t buffer = std::uniform_int_distribution<int>(0, 2)(rng) * 512;
    auto e = choose_eviction(need, count, gpus, buffer, workers);

    // Oracle for possibility: GPUs where unloading every idle worker would make room.
    int could = 0;
    for (const GpuView& g : gpus) {
      std::int64_t idle_mb = 0;
      for (const WorkerSlot& w : workers) {
        if (w.gpu == g.index && w.state == WorkerState::idle) idle_mb += w.held_mb;
      }
      if (g.known && available_mb(g, buffer) + idle_mb >= need) ++could;
    }
    ASSERT_EQ(e.has_value(), could >= count) << "world " << world;
    if (!e) continue;
    ASSERT_EQ(static_cast<int>(e->size()), count);
    std::set<int> used;
    for (const GpuEviction& ge : *e) {
      ASSERT_TRUE(used.insert(ge.gpu).second) << "a GPU chosen twice";
      const GpuView& g = gpus.at(static_cast<std::size_t>(ge.gpu));
      ASSERT_TRUE(g.known);
      std::int64_t freed = 0;
      std::int64_t newest_chosen = -1;
      for (WorkerId id : ge.workers) {
        auto w = std::ranges::find(workers, id, &WorkerSlot::id);
        ASSERT_NE(w, workers.end());
        ASSERT_EQ(w->gpu, ge.gpu) << "a worker on another GPU";
        ASSERT_EQ(w->state, WorkerState::idle) << "only idle workers are evicted";
        freed += w->held_mb;
        newest_chosen = std::max(newest_chosen, w->last_used_ms);
      }
      ASSERT_EQ(freed, ge.freed_mb);
      // It fits once they are gone...
      ASSERT_GE(available_mb(g, buffer) + freed, need) << "world " << world;
      // ... and not with one fewer (the most recent of them kept).
      if (!ge.workers.empty()) {
        auto last = std::ranges::find(workers, ge.workers.back(), &WorkerSlot::id);
        ASSERT_LT(available_mb(g, buffer) + freed - last->held_mb, need) << "more than it takes";
      }
      // LRU: no idle worker left on this GPU was used before one that goes.
      for (const WorkerSlot& w : workers) {
        bool chosen = std::ranges::find(ge.workers, w.id) != ge.workers.end();
        if (w.gpu == ge.gpu && w.state == WorkerState::idle && !chosen && !ge.workers.empty()) {
          ASSERT_GE(w.last_used_ms, newest_chosen) << "an older idle worker was kept";
        }
      }
    }
  }
}

}  // namespace
}  // namespace vramq::core
