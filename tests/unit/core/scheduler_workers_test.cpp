// The planner with warm workers (issue 12): routing runs to idle workers of their task, starting
// new ones within max_workers, unloading idle workers only when that makes a job fit; examples,
// then random worlds checked against the ledger invariant.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>

#include "core/scheduler.hpp"

namespace vramq::core {
namespace {

constexpr std::int64_t kGiB = 1024;

GpuView gpu(int index, std::int64_t total, std::int64_t committed, bool known = true) {
  return {.index = index,
          .total_mb = total,
          .committed_mb = committed,
          .foreign_mb = 0,
          .known = known};
}

QueuedJob job(JobId id, std::int64_t vram, int worker_task = -1, int priority = 0) {
  return {.id = id,
          .priority = priority,
          .vram_mb = vram,
          .queued_at_ms = 1000,
          .held_gpus = {},
          .gpus = 1,
          .worker_task = worker_task};
}

IdleWorker idle(WorkerId id, int task, int g, std::int64_t held, std::int64_t used) {
  return {.id = id, .task = task, .gpu = g, .held_mb = held, .last_used_ms = used};
}

Decisions run(std::vector<GpuView> gpus, std::vector<QueuedJob> queue, WorkerView workers) {
  std::ranges::sort(queue, queue_before);
  return plan({.queue = queue,
               .gpus = gpus,
               .now_ms = 2000,
               .config = {.buffer_mb = 0, .backfill_bound_ms = 300'000},
               .draining = false,
               .workers = std::move(workers)});
}

const PendingDecision* pending(const Decisions& d, JobId id) {
  auto it = std::ranges::find(d.pending, id, &PendingDecision::job);
  return it == d.pending.end() ? nullptr : &*it;
}

TEST(SchedulerWorkers, AWarmRunNeedsOnlyWhatItAddsToItsIdleWorker) {
  // 24 GiB GPU; an idle worker of task 0 holds 14 GiB, 10 GiB free. A 16 GiB run of task 0
  // adds 2 GiB: it starts on that worker; a 16 GiB plain job could not.
  WorkerView w{.tasks = {{.max_workers = 1, .resident = 1, .not_before_ms = 0}},
               .idle = {idle(7, 0, 0, 14 * kGiB, 100)},
               .unloading_mb = {}};
  Decisions d = run({gpu(0, 24 * kGiB, 14 * kGiB)}, {job(1, 16 * kGiB, 0)}, w);
  ASSERT_EQ(d.starts.size(), 1u);
  EXPECT_EQ(d.starts[0].worker, 7);
  EXPECT_EQ(d.starts[0].leftover_mb, 8 * kGiB);
  EXPECT_TRUE(d.evictions.empty());
  // The worker serves one run at a time: a second run of its task waits for it.
  d = run({gpu(0, 24 * kGiB, 14 * kGiB)}, {job(1, 14 * kGiB, 0), job(2, 14 * kGiB, 0)}, w);
  ASSERT_EQ(d.starts.size(), 1u);
  ASSERT_NE(pending(d, 2), nullptr);
  EXPECT_EQ(pending(d, 2)->reason, PendingReason::worker_busy);
}

TEST(SchedulerWorkers, TheMostRecentlyUsedIdleWorkerServesAndNewOnesStayWithinMax) {
  WorkerView w{.tasks = {{.max_workers = 3, .resident = 2, .not_before_ms = 0}},
               .idle = {idle(1, 0, 0, 4 * kGiB, 100), idle(2, 0, 1, 4 * kGiB, 900)},
               .unloading_mb = {}};
  Decisions d =
      run({gpu(0, 24 * kGiB, 4 * kGiB), gpu(1, 24 * kGiB, 4 * kGiB)},
          {job(1, 4 * kGiB, 0), job(2, 4 * kGiB, 0), job(3, 4 * kGiB, 0), job(4, 4 * kGiB, 0)}, w);
  ASSERT_EQ(d.starts.size(), 3u);
  EXPECT_EQ(d.starts[0].worker, 2) << "the most recently used first";
  EXPECT_EQ(d.starts[1].worker, 1);
  EXPECT_EQ(d.starts[2].worker, 0) << "a third worker, the last max_workers allows";
  EXPECT_EQ(pending(d, 4)->reason, PendingReason::worker_busy);
}

TEST(SchedulerWorkers, AWorkerTaskInBackOffWaitsAndSaysSo) {
  WorkerView w{.tasks = {{.max_workers = 2, .resident = 0, .not_before_ms = 5000}},
               .idle = {},
               .unloading_mb = {}};
  Decisions d = run({gpu(0, 24 * kGiB, 0)}, {job(1, 4 * kGiB, 0), job(2, 4 * kGiB)}, w);
  ASSERT_EQ(d.starts.size(), 1u);
  EXPECT_EQ(d.starts[0].job, 2) << "other jobs go on";
  EXPECT_EQ(pending(d, 1)->reason, PendingReason::worker_backoff);
}

TEST(SchedulerWorkers, IdleWorkersAreUnloadedOnlyWhenThatMakesTheJobFit) {
  // Two idle workers of other tasks, 8 GiB each, on a 24 GiB GPU with 20 GiB committed: a 10 GiB
  // job needs one of them gone, the least recently used.
  WorkerView w{.tasks = {{.max_workers = 1, .resident = 1, .not_before_ms = 0},
                         {.max_workers = 1, .resident = 1, .not_before_ms = 0}},
               .idle = {idle(1, 0, 0, 8 * kGiB, 500), idle(2, 1, 0, 8 * kGiB, 100)},
               .unloading_mb = {}};
  Decisions d = run({gpu(0, 24 * kGiB, 20 * kGiB)}, {job(1, 10 * kGiB)}, w);
  EXPECT_TRUE(d.starts.empty());
  EXPECT_EQ(d.evictions, (std::vector<WorkerId>{2}));
  EXPECT_EQ(pending(d, 1)->reason, PendingReason::worker_unloading);
  // A job larger than what every idle worker gone would give evicts nothing.
  d = run({gpu(0, 24 * kGiB, 20 * kGiB)}, {job(1, 21 * kGiB)}, w);
  EXPECT_TRUE(d.evictions.empty());
  EXPECT_EQ(pending(d, 1)->reason, PendingReason::vram);
  // Memory already on its way out (a worker unloading) is waited for, not evicted again.
  WorkerView going = w;
  going.unloading_mb = {8 * kGiB};
  // 32 GiB: 8 + 8 idle, 8 unloading, 6 of a running job: 2 GiB free, 10 once it is gone.
  d = run({gpu(0, 32 * kGiB, 30 * kGiB)}, {job(1, 10 * kGiB), job(2, 10 * kGiB)}, going);
  EXPECT_TRUE(d.evictions.empty()) << "both wait for the unloading worker; nothing more goes";
  EXPECT_EQ(pending(d, 1)->reason, PendingReason::worker_unloading);
  EXPECT_EQ(pending(d, 2)->reason, PendingReason::worker_unloading);
  // With less on its way out than it needs, the least recently used idle worker goes too.
  d = run({gpu(0, 24 * kGiB, 28 * kGiB)}, {job(1, 10 * kGiB)}, going);
  EXPECT_EQ(d.evictions, (std::vector<WorkerId>{2}));
}

TEST(SchedulerWorkers, ARunOfAnIdleWorkersTaskIsServedByItNotByEvictingIt) {
  // The task's own idle worker lacks room for a bigger run: another task's idle worker on that
  // GPU is unloaded instead of loading the model a second time.
  WorkerView w{.tasks = {{.max_workers = 1, .resident = 1, .not_before_ms = 0},
                         {.max_workers = 1, .resident = 1, .not_before_ms = 0}},
               .idle = {idle(1, 0, 0, 8 * kGiB, 100), idle(2, 1, 0, 12 * kGiB, 50)},
               .unloading_mb = {}};
  Decisions d = run({gpu(0, 24 * kGiB, 20 * kGiB)}, {job(1, 16 * kGiB, 0)}, w);
  EXPECT_TRUE(d.starts.empty());
  EXPECT_EQ(d.evictions, (std::vector<WorkerId>{2}));
  EXPECT_EQ(pending(d, 1)->reason, PendingReason::worker_unloading);
}

TEST(SchedulerWorkers, AnIdleWorkerWithoutRoomForTheRunMakesWayOrWaitsForVram) {
  // Its task's only worker is idle but its GPU lacks the 6 GiB the run adds, and nothing there
  // can be unloaded. With another GPU empty, the worker is unloaded so that a new one starts
  // there; with none, the run waits for VRAM (not for a busy worker).
  WorkerView w{.tasks = {{.max_workers = 1, .resident = 1, .not_before_ms = 0}},
               .idle = {idle(1, 0, 0, 8 * kGiB, 100)},
               .unloading_mb = {}};
  Decisions d =
      run({gpu(0, 24 * kGiB, 20 * kGiB), gpu(1, 24 * kGiB, 0)}, {job(1, 14 * kGiB, 0)}, w);
  EXPECT_TRUE(d.starts.empty());
  EXPECT_EQ(d.evictions, (std::vector<WorkerId>{1}));
  EXPECT_EQ(pending(d, 1)->reason, PendingReason::worker_unloading);
  d = run({gpu(0, 24 * kGiB, 20 * kGiB), gpu(1, 24 * kGiB, 16 * kGiB)}, {job(1, 14 * kGiB, 0)}, w);
  EXPECT_TRUE(d.evictions.empty());
  EXPECT_EQ(pending(d, 1)->reason, PendingReason::vram);
}

TEST(SchedulerWorkers, RoomForWhatARunAddsToItsIdleWorkerComesBeforeANewWorker) {
  // 24 GiB: its task's idle worker holds 10, another task's 6, 8 free; the run needs 20. A new
  // worker (20) would not fit even with the other gone (14), but the run adds only 10 to its own
  // worker: unloading the other makes that fit, although max_workers would allow a second one.
  WorkerView w{.tasks = {{.max_workers = 2, .resident = 1, .not_before_ms = 0},
                         {.max_workers = 1, .resident = 1, .not_before_ms = 0}},
               .idle = {idle(1, 0, 0, 10 * kGiB, 100), idle(2, 1, 0, 6 * kGiB, 500)},
               .unloading_mb = {}};
  Decisions d = run({gpu(0, 24 * kGiB, 16 * kGiB)}, {job(1, 20 * kGiB, 0)}, w);
  EXPECT_TRUE(d.starts.empty());
  EXPECT_EQ(d.evictions, (std::vector<WorkerId>{2}));
  EXPECT_EQ(pending(d, 1)->reason, PendingReason::worker_unloading);
}

TEST(SchedulerWorkers, HeldAndUnknownGpusGiveNothingToWarmRunsThatNeedMore) {
  WorkerView w{.tasks = {{.max_workers = 1, .resident = 1, .not_before_ms = 0}},
               .idle = {idle(1, 0, 0, 4 * kGiB, 100)},
               .unloading_mb = {}};
  Decisions d = run({gpu(0, 24 * kGiB, 4 * kGiB, false)}, {job(1, 4 * kGiB, 0)}, w);
  EXPECT_TRUE(d.starts.empty()) << "no reading: nothing starts there, warm or not";
}

// Random worlds: GPUs with committed memory (idle workers' included), idle workers of a few
// tasks, a queue of plain and worker jobs. The invariant the ledger needs: on every GPU, what the
// pass's starts add (a warm run: only what it adds to its worker) fits in what was available,
// evicted memory not counted as free; evictions are idle workers, never also routed to; no
// task ends up with more workers than max_workers.
// Jobs run as their owners' users (issue 24, item 6): a worker serves only runs of its user; one
// of another user that holds its task's last place makes way for a worker of the run's user.
TEST(SchedulerWorkers, AWorkerServesOnlyRunsOfItsUser) {
  IdleWorker alices = idle(7, 0, 0, 4 * kGiB, 100);
  alices.uid = 1001;
  WorkerView w{.tasks = {{.max_workers = 2, .resident = 1, .not_before_ms = 0}},
               .idle = {alices},
               .unloading_mb = {},
               .owner_uids = {-1, 1001, 1002},  // 0: no owner; 1: alice; 2: bob
               .default_uid = 1003};
  QueuedJob bobs = job(1, 4 * kGiB, 0);
  bobs.owner = 2;
  EXPECT_FALSE(w.serves(alices, bobs));
  Decisions d = run({gpu(0, 24 * kGiB, 4 * kGiB)}, {bobs}, w);
  ASSERT_EQ(d.starts.size(), 1u);
  EXPECT_EQ(d.starts[0].worker, 0) << "a new worker for bob, not alice's";
  EXPECT_TRUE(d.evictions.empty()) << "a place was left: alice's stays";
  QueuedJob alice_run = job(2, 4 * kGiB, 0);
  alice_run.owner = 1;
  d = run({gpu(0, 24 * kGiB, 4 * kGiB)}, {alice_run}, w);
  ASSERT_EQ(d.starts.size(), 1u);
  EXPECT_EQ(d.starts[0].worker, 7);
  // An owner past the table runs as the default user, as does a worker started for one.
  QueuedJob later = job(3, 4 * kGiB, 0);
  later.owner = 9;
  IdleWorker fallback = idle(8, 0, 0, 4 * kGiB, 100);
  fallback.uid = 1003;
  EXPECT_TRUE(w.serves(fallback, later));
  EXPECT_FALSE(w.serves(alices, later));
  // Its task at max_workers with alice's worker idle: bob's run has it unloaded and waits.
  w.tasks[0].max_workers = 1;
  d = run({gpu(0, 24 * kGiB, 4 * kGiB)}, {bobs}, w);
  EXPECT_TRUE(d.starts.empty());
  EXPECT_EQ(d.evictions, std::vector<WorkerId>{7});
  EXPECT_EQ(pending(d, 1)->reason, PendingReason::worker_unloading);
  // ... but not when even then a worker of bob's would not fit: that would gain nothing.
  QueuedJob big = bobs;
  big.vram_mb = 23 * kGiB;  // 18 GiB free, 22 GiB with alice's worker gone
  d = run({gpu(0, 24 * kGiB, 6 * kGiB)}, {big}, w);
  EXPECT_TRUE(d.evictions.empty());
  EXPECT_TRUE(d.starts.empty());
  // In back-off nothing is unloaded for it.
  w.tasks[0].not_before_ms = 5000;
  d = run({gpu(0, 24 * kGiB, 4 * kGiB)}, {bobs}, w);
  EXPECT_TRUE(d.evictions.empty());
  // A place left but no room: alice's idle worker (of the same task) is unloaded for bob's new
  // one, as any idle worker that cannot serve the run would be.
  w.tasks[0] = {.max_workers = 2, .resident = 1, .not_before_ms = 0};
  w.idle[0].held_mb = 20 * kGiB;
  QueuedJob six = bobs;
  six.vram_mb = 6 * kGiB;  // 4 GiB free
  d = run({gpu(0, 24 * kGiB, 20 * kGiB)}, {six}, w);
  EXPECT_EQ(d.evictions, std::vector<WorkerId>{7});
  EXPECT_EQ(pending(d, 1)->reason, PendingReason::worker_unloading);
}

TEST(SchedulerWorkersProperty, StartsFitEvictionsAreIdleAndMaxWorkersHolds) {
  std::mt19937_64 rng(1129);
  for (int world = 0; world < 20000; ++world) {
    int n_gpus = std::uniform_int_distribution<int>(1, 3)(rng);
    int n_tasks = std::uniform_int_distribution<int>(1, 3)(rng);
    WorkerView w;
    for (int t = 0; t < n_tasks; ++t) {
      w.tasks.push_back({.max_workers = std::uniform_int_distribution<int>(1, 3)(rng),
                         .resident = 0,
                         .not_before_ms = rng() % 5 == 0 ? 5000 : 0});
    }
    std::vector<GpuView> gpus;
    WorkerId next = 1;
    for (int g = 0; g < n_gpus; ++g) {
      std::int64_t total = std::uniform_int_distribution<int>(8, 48)(rng) * kGiB;
      std::int64_t committed = 0;
      int n = std::uniform_int_distribution<int>(0, 3)(rng);
      for (int i = 0; i < n; ++i) {
        int t = std::uniform_int_distribution<int>(0, n_tasks - 1)(rng);
        std::int64_t held = std::uniform_int_distribution<int>(1, 12)(rng) * kGiB;
        if (committed + held > total || w.tasks[t].resident >= w.tasks[t].max_workers) continue;
        committed += held;
        ++w.tasks[t].resident;
        w.idle.push_back(idle(next++, t, g, held, std::uniform_int_distribution<int>(0, 99)(rng)));
      }
      committed += std::uniform_int_distribution<std::int64_t>(0, total - committed)(rng) / 2;
      gpus.push_back(gpu(g, total, committed, rng() % 8 != 0));
    }
    std::vector<QueuedJob> queue;
    int n_jobs = std::uniform_int_distribution<int>(1, 8)(rng);
    for (int i = 0; i < n_jobs; ++i) {
      int t = std::uniform_int_distribution<int>(-1, n_tasks - 1)(rng);
      queue.push_back(job(i + 1, std::uniform_int_distribution<int>(1, 20)(rng) * kGiB, t,
                          std::uniform_int_distribution<int>(0, 1)(rng)));
    }
    Decisions d = run(gpus, queue, w);

    std::map<int, std::int64_t> added;
    std::set<WorkerId> routed;
    std::map<int, int> cold;  // new workers per task
    for (const StartDecision& s : d.starts) {
      const QueuedJob& q = *std::ranges::find(queue, s.job, &QueuedJob::id);
      if (s.worker != 0) {
        auto it = std::ranges::find(w.idle, s.worker, &IdleWorker::id);
        ASSERT_NE(it, w.idle.end()) << "routed to a worker that is not idle";
        ASSERT_EQ(it->task, q.worker_task) << "routed to another task's worker";
        ASSERT_EQ(it->gpu, s.gpu);
        ASSERT_TRUE(routed.insert(s.worker).second) << "two runs on one worker";
        added[s.gpu] += std::max<std::int64_t>(0, q.vram_mb - it->held_mb);
      } else {
        added[s.gpu] += q.vram_mb;
        if (q.worker_task >= 0) ++cold[q.worker_task];
      }
      ASSERT_TRUE(gpus[static_cast<std::size_t>(s.gpu)].known);
    }
    for (const auto& [g, mb] : added) {
      ASSERT_LE(mb, available_mb(gpus[static_cast<std::size_t>(g)], 0)) << "world " << world;
    }
    for (WorkerId e : d.evictions) {
      ASSERT_NE(std::ranges::find(w.idle, e, &IdleWorker::id), w.idle.end());
      ASSERT_FALSE(routed.contains(e)) << "evicted and routed to";
    }
    for (const auto& [t, n] : cold) {
      ASSERT_LE(w.tasks[static_cast<std::size_t>(t)].resident + n,
                w.tasks[static_cast<std::size_t>(t)].max_workers);
      ASSERT_EQ(w.tasks[static_cast<std::size_t>(t)].not_before_ms, 0) << "started in back-off";
    }
    // Every eviction is for a job left waiting for it.
    if (!d.evictions.empty()) {
      ASSERT_TRUE(std::ranges::any_of(d.pending, [](const PendingDecision& p) {
        return p.reason == PendingReason::worker_unloading;
      })) << "an eviction that no waiting job asked for";
    }
  }
}

}  // namespace
}  // namespace vramq::core
