#include "core/scheduler.hpp"

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <algorithm>

namespace vramq::core {

// Readable failures for whole-vector comparisons.
void PrintTo(const StartDecision& s, std::ostream* os) {
  *os << "{job " << s.job << " gpu " << s.gpu << " avail " << s.available_mb << " left "
      << s.leftover_mb << "}";
}
void PrintTo(const PendingDecision& p, std::ostream* os) {
  *os << "{job " << p.job << " pos " << p.position << " " << to_string(p.reason) << " held "
      << fmt::format("{}", fmt::join(p.held_gpus, ",")) << " best " << p.best_available_mb << "}";
}

namespace {

// Small builders: a GPU of `total` MiB with `committed`/`foreign` in use, and queued jobs.
GpuView gpu(int index, std::int64_t total, std::int64_t committed = 0, std::int64_t foreign = 0) {
  return {.index = index, .total_mb = total, .committed_mb = committed, .foreign_mb = foreign};
}
QueuedJob job(JobId id, std::int64_t vram, int priority = 0, std::int64_t queued_at = 0) {
  return {.id = id, .priority = priority, .vram_mb = vram, .queued_at_ms = queued_at};
}

struct Case {
  std::vector<QueuedJob> queue;
  std::vector<GpuView> gpus;
  std::int64_t now_ms = 1000;
  std::int64_t buffer_mb = 1024;
  std::int64_t bound_ms = 300'000;
  bool draining = false;

  Decisions run() {
    std::ranges::sort(queue, queue_before);
    return plan({.queue = queue,
                 .gpus = gpus,
                 .now_ms = now_ms,
                 .config = {.buffer_mb = buffer_mb, .backfill_bound_ms = bound_ms},
                 .draining = draining});
  }
};

PendingDecision pending(JobId id, int position, PendingReason reason, std::int64_t best,
                        std::optional<int> held = std::nullopt) {
  return {.job = id,
          .position = position,
          .reason = reason,
          .held_gpus = held ? std::vector<int>{*held} : std::vector<int>{},
          .best_available_mb = best};
}

TEST(Scheduler, EmptyQueueDecidesNothing) {
  Case c{.gpus = {gpu(0, 24576)}};
  Decisions d = c.run();
  EXPECT_TRUE(d.starts.empty());
  EXPECT_TRUE(d.pending.empty());
}

TEST(Scheduler, AdmitsWhileReservationsPlusBufferFit) {
  // 24 GiB, 1 GiB buffer: 23552 MiB admissible. 3 x 7 GiB fit (21504), the fourth does not.
  Case c{.queue = {job(1, 7168), job(2, 7168), job(3, 7168), job(4, 7168)},
         .gpus = {gpu(0, 24576)}};
  Decisions d = c.run();
  EXPECT_EQ(d.starts, (std::vector<StartDecision>{
                          {1, 0, 23552, 16384}, {2, 0, 16384, 9216}, {3, 0, 9216, 2048}}));
  EXPECT_EQ(d.pending, (std::vector<PendingDecision>{pending(4, 0, PendingReason::vram, 2048)}));
}

TEST(Scheduler, ExactFitIsAdmitted) {
  Case c{.queue = {job(1, 23552)}, .gpus = {gpu(0, 24576)}};
  EXPECT_EQ(c.run().starts.size(), 1u);
  Case over{.queue = {job(1, 23553)}, .gpus = {gpu(0, 24576)}};
  EXPECT_TRUE(over.run().starts.empty());
}

TEST(Scheduler, CountsCommittedAndForeignUse) {
  Case c{.queue = {job(1, 4096)}, .gpus = {gpu(0, 24576, 16384, 4000)}};
  // 24576 - 16384 - 4000 - 1024 = 3168 < 4096
  Decisions d = c.run();
  EXPECT_TRUE(d.starts.empty());
  EXPECT_EQ(d.pending, (std::vector<PendingDecision>{pending(1, 0, PendingReason::vram, 3168)}));
}

TEST(Scheduler, BestFitAcrossGpus) {
  // GPU 1 has the least room that still fits: it is chosen; ties go to the lower index.
  Case c{.queue = {job(1, 4096)},
         .gpus = {gpu(0, 24576), gpu(1, 24576, 18000), gpu(2, 24576, 10000)}};
  Decisions d = c.run();
  ASSERT_EQ(d.starts.size(), 1u);
  EXPECT_EQ(d.starts[0].gpu, 1);
  Case tie{.queue = {job(1, 4096)}, .gpus = {gpu(0, 24576, 1000), gpu(1, 24576, 1000)}};
  EXPECT_EQ(tie.run().starts.at(0).gpu, 0);
}

TEST(Scheduler, PriorityFirstThenFifo) {
  // Room for two 10 GiB jobs: the high-priority one and then the oldest normal one.
  Case c{.queue = {job(1, 10240), job(2, 10240), job(3, 10240, 5)}, .gpus = {gpu(0, 24576)}};
  Decisions d = c.run();
  ASSERT_EQ(d.starts.size(), 2u);
  EXPECT_EQ(d.starts[0].job, 3);
  EXPECT_EQ(d.starts[1].job, 1);
  EXPECT_EQ(d.pending, (std::vector<PendingDecision>{pending(2, 0, PendingReason::vram, 3072)}));
}

TEST(Scheduler, BackfillsPastAYoungBigJob) {
  // Job 1 (20 GiB) does not fit next to 8 GiB in use; job 2 (4 GiB) does and may pass it.
  Case c{.queue = {job(1, 20480, 0, 0), job(2, 4096, 0, 0)},
         .gpus = {gpu(0, 24576, 8192)},
         .now_ms = 1000};
  Decisions d = c.run();
  EXPECT_EQ(d.starts, (std::vector<StartDecision>{{2, 0, 15360, 11264}}));
  EXPECT_EQ(d.pending, (std::vector<PendingDecision>{pending(1, 0, PendingReason::vram, 15360)}));
}

TEST(Scheduler, NoBackfillPastAJobWaitingLongerThanTheBound) {
  Case c{.queue = {job(1, 20480, 0, 0), job(2, 4096, 0, 0)},
         .gpus = {gpu(0, 24576, 8192)},
         .now_ms = 300'000};  // job 1 has waited exactly the bound
  Decisions d = c.run();
  EXPECT_TRUE(d.starts.empty());
  EXPECT_EQ(d.pending,
            (std::vector<PendingDecision>{pending(1, 0, PendingReason::vram, 15360, 0),
                                          pending(2, 1, PendingReason::head_of_line, 0)}));
}

TEST(Scheduler, AStarvingHighPriorityJobHoldsBackLowerOnesWithReasonPriority) {
  Case c{.queue = {job(1, 20480, 5, 0), job(2, 4096, 0, 0)},
         .gpus = {gpu(0, 24576, 8192)},
         .now_ms = 400'000};
  Decisions d = c.run();
  EXPECT_TRUE(d.starts.empty());
  ASSERT_EQ(d.pending.size(), 2u);
  EXPECT_EQ(d.pending[1].reason, PendingReason::priority);
}

TEST(Scheduler, AHoldCoversOneGpuAndOthersStillBackfill) {
  // Job 1 starves holding GPU 0 (its best chance); GPU 1 still takes job 2.
  Case c{.queue = {job(1, 20480, 0, 0), job(2, 4096, 0, 0)},
         .gpus = {gpu(0, 24576, 8192), gpu(1, 24576, 12000)},
         .now_ms = 500'000};
  Decisions d = c.run();
  EXPECT_EQ(d.starts, (std::vector<StartDecision>{{2, 1, 11552, 7456}}));
  ASSERT_EQ(d.pending.size(), 1u);
  EXPECT_EQ(d.pending[0].held_gpus, std::vector<int>{0});
}

TEST(Scheduler, HoldsAreSticky) {
  // Job 1 held GPU 1 before; GPU 0 now has more room, but the hold stays where it was.
  QueuedJob starving = job(1, 20480, 0, 0);
  starving.held_gpus = {1};
  Case c{.queue = {starving, job(2, 4096)},
         .gpus = {gpu(0, 24576, 6000), gpu(1, 24576, 8192)},
         .now_ms = 500'000};
  Decisions d = c.run();
  EXPECT_EQ(d.pending.at(0).held_gpus, std::vector<int>{1});
  EXPECT_EQ(d.starts, (std::vector<StartDecision>{{2, 0, 17552, 13456}}));
}

TEST(Scheduler, AStarvingJobThatFitsStartsAnywhere) {
  Case c{.queue = {job(1, 8192, 0, 0)}, .gpus = {gpu(0, 24576)}, .now_ms = 900'000};
  EXPECT_EQ(c.run().starts.size(), 1u);
}

TEST(Scheduler, UnknownGpusAdmitNothing) {
  GpuView unknown = gpu(0, 24576);
  unknown.known = false;
  Case c{.queue = {job(1, 1024)}, .gpus = {unknown}};
  Decisions d = c.run();
  EXPECT_TRUE(d.starts.empty());
  EXPECT_EQ(d.pending.at(0).reason, PendingReason::gpu_unknown);
  // A job that only an unknown GPU could hold waits for it; others use the known GPU.
  Case mixed{.queue = {job(1, 30000), job(2, 1024)}, .gpus = {gpu(0, 8192), unknown}};
  mixed.gpus[1] = {.index = 1, .total_mb = 40960, .known = false};
  Decisions m = mixed.run();
  EXPECT_EQ(m.starts, (std::vector<StartDecision>{{2, 0, 7168, 6144}}));
  EXPECT_EQ(m.pending.at(0).reason, PendingReason::gpu_unknown);
}

QueuedJob multi(JobId id, std::int64_t vram, int gpus, std::int64_t queued_at = 0) {
  QueuedJob q = job(id, vram, 0, queued_at);
  q.gpus = gpus;
  return q;
}

TEST(Scheduler, AMultiGpuJobTakesTheBestFittingGpusTogether) {
  // Free: 23552, 11552, 15552, 3552. Two GPUs with 10000 each: the two left with the least
  // (GPU 1 and 2), reported in index order.
  Case c{.queue = {multi(1, 10000, 2)},
         .gpus = {gpu(0, 24576), gpu(1, 24576, 12000), gpu(2, 24576, 8000), gpu(3, 24576, 20000)}};
  Decisions d = c.run();
  ASSERT_EQ(d.starts.size(), 1u);
  EXPECT_EQ(d.starts[0].all_gpus(), (std::vector<int>{1, 2}));
  EXPECT_EQ(d.starts[0].gpu, 1);
  EXPECT_EQ(d.starts[0].other_gpus, std::vector<int>{2});
  EXPECT_EQ(d.starts[0].leftover_mb, 1552);
}

TEST(Scheduler, AMultiGpuJobWaitsUntilEnoughGpusHaveRoomAndOthersBackfill) {
  Case c{.queue = {multi(1, 10000, 2), job(2, 10000)},
         .gpus = {gpu(0, 24576, 20000), gpu(1, 24576)}};
  Decisions d = c.run();
  EXPECT_EQ(d.starts, (std::vector<StartDecision>{{2, 1, 23552, 13552}}));
  ASSERT_EQ(d.pending.size(), 1u);
  EXPECT_EQ(d.pending[0].reason, PendingReason::vram);
  // Both GPUs use up room for the whole job: two GPUs with 10000 each, not one with 20000.
  Case one{.queue = {multi(1, 10000, 2)}, .gpus = {gpu(0, 49152), gpu(1, 8192)}};
  EXPECT_TRUE(one.run().starts.empty());
}

TEST(Scheduler, AStarvingMultiGpuJobHoldsAsManyGpus) {
  // Job 1 (two GPUs of 20000) starves: it holds the two GPUs closest to having room (0 and 2);
  // job 2 may only use GPU 1.
  Case c{.queue = {multi(1, 20000, 2, 0), job(2, 4096, 0, 0)},
         .gpus = {gpu(0, 24576, 8192), gpu(1, 24576, 16000), gpu(2, 24576, 6000)},
         .now_ms = 500'000};
  Decisions d = c.run();
  ASSERT_EQ(d.pending.size(), 1u);
  EXPECT_EQ(d.pending[0].held_gpus, (std::vector<int>{0, 2}));
  ASSERT_EQ(d.starts.size(), 1u);
  EXPECT_EQ(d.starts[0].gpu, 1);
  // Fewer usable GPUs than it needs: it holds none (it could not start on them anyway).
  Case few{.queue = {multi(1, 20000, 3, 0)},
           .gpus = {gpu(0, 24576, 8192), gpu(1, 24576, 8192), gpu(2, 8192)},
           .now_ms = 500'000};
  EXPECT_TRUE(few.run().pending.at(0).held_gpus.empty());
}

TEST(Scheduler, AMultiGpuJobSaysWhatKeepsItsCountShort) {
  GpuView unknown{.index = 1, .total_mb = 24576, .known = false};
  Case c{.queue = {multi(1, 10000, 2)}, .gpus = {gpu(0, 24576), unknown}};
  EXPECT_EQ(c.run().pending.at(0).reason, PendingReason::gpu_unknown);
  // One GPU fits and the other would, but it is held for an older starving job: head of line.
  Case held{.queue = {job(1, 20000, 0, 0), multi(2, 10000, 2, 400'000)},
            .gpus = {gpu(0, 24576, 8000), gpu(1, 24576, 8000)},
            .now_ms = 500'000};
  Decisions d = held.run();
  EXPECT_TRUE(d.starts.empty());
  EXPECT_EQ(d.pending.at(0).held_gpus, std::vector<int>{0});
  EXPECT_EQ(d.pending.at(1).reason, PendingReason::head_of_line);
  // Without the hold it would be plain lack of VRAM on the second GPU.
  Case short_one{.queue = {multi(2, 10000, 2)},
                 .gpus = {gpu(0, 24576, 20000), gpu(1, 24576, 8000)}};
  EXPECT_EQ(short_one.run().pending.at(0).reason, PendingReason::vram);
}

TEST(Scheduler, FitsEverCountsGpus) {
  std::vector<GpuView> g = {gpu(0, 24576), gpu(1, 81920)};
  EXPECT_TRUE(fits_ever(40000, g, 1024, 1));
  EXPECT_FALSE(fits_ever(40000, g, 1024, 2));
  EXPECT_TRUE(fits_ever(20000, g, 1024, 2));
  EXPECT_FALSE(fits_ever(20000, g, 1024, 3));
}

TEST(Scheduler, DrainingStartsNothing) {
  Case c{.queue = {job(1, 1024), job(2, 1024)}, .gpus = {gpu(0, 24576)}, .draining = true};
  Decisions d = c.run();
  EXPECT_TRUE(d.starts.empty());
  EXPECT_EQ(d.pending,
            (std::vector<PendingDecision>{pending(1, 0, PendingReason::draining, 23552),
                                          pending(2, 1, PendingReason::draining, 23552)}));
}

TEST(Scheduler, PositionsCountOnlyJobsStillWaiting) {
  Case c{.queue = {job(1, 20000), job(2, 3000), job(3, 20000), job(4, 20000)},
         .gpus = {gpu(0, 24576)}};
  Decisions d = c.run();
  EXPECT_EQ(d.starts.size(), 2u);  // 1 and 2
  ASSERT_EQ(d.pending.size(), 2u);
  EXPECT_EQ(d.pending[0].job, 3);
  EXPECT_EQ(d.pending[0].position, 0);
  EXPECT_EQ(d.pending[1].job, 4);
  EXPECT_EQ(d.pending[1].position, 1);
}

TEST(Scheduler, ZeroVramJobsAlwaysFitAKnownGpu) {
  Case c{.queue = {job(1, 0)}, .gpus = {gpu(0, 24576, 23552)}};
  EXPECT_EQ(c.run().starts.size(), 1u);
}

TEST(Scheduler, SameSnapshotSameAnswer) {
  Case c{.queue = {job(3, 5000), job(1, 9000, 2), job(2, 12000)},
         .gpus = {gpu(0, 24576, 3000), gpu(1, 16384)}};
  Decisions a = c.run();
  Decisions b = c.run();
  EXPECT_EQ(a.starts, b.starts);
  EXPECT_EQ(a.pending, b.pending);
}

TEST(FitsEver, IgnoresCurrentUseButKeepsTheBuffer) {
  std::vector<GpuView> gpus = {gpu(0, 24576, 20000, 4000), gpu(1, 8192)};
  EXPECT_TRUE(fits_ever(23552, gpus, 1024));
  EXPECT_FALSE(fits_ever(23553, gpus, 1024));
  EXPECT_FALSE(fits_ever(1, {}, 0));
}

TEST(QueueOrder, PriorityDescThenId) {
  EXPECT_TRUE(queue_before(job(5, 1, 2), job(1, 1, 1)));
  EXPECT_TRUE(queue_before(job(1, 1), job(2, 1)));
  EXPECT_FALSE(queue_before(job(2, 1), job(1, 1)));
}

}  // namespace
}  // namespace vramq::core
