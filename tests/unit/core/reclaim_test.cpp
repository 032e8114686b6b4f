// Reclaim (core/reclaim.hpp): which borrowed jobs to stop for a claimant. Examples for each
// rule, then random worlds checked against an oracle that enumerates victim sets itself.
#include "core/reclaim.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

namespace vramq::core {
namespace {

constexpr std::int64_t GiB = 1024;

QueuedJob claimant(std::int64_t mb, std::uint32_t owner = 1, int gpus = 1) {
  return {.id = 100, .vram_mb = mb, .gpus = gpus, .owner = owner};
}

ReclaimRun run(JobId id, int gpu, std::int64_t mb, std::uint32_t owner = 2, int priority = 0,
               std::int64_t started = 0, bool reclaimable = true) {
  return {.job = id,
          .owner = owner,
          .priority = priority,
          .started_at_ms = started,
          .gpus = {gpu},
          .vram_mb = mb,
          .reclaimable = reclaimable};
}

TEST(Reclaim, NothingWhenItFitsNowOrCouldNeverFit) {
  std::vector<GpuView> gpus{{.index = 0, .total_mb = 24 * GiB, .committed_mb = 10 * GiB}};
  std::vector<ReclaimRun> runs{run(1, 0, 10 * GiB)};
  EXPECT_FALSE(plan_reclaim(claimant(8 * GiB), gpus, 0, runs));   // fits now
  EXPECT_FALSE(plan_reclaim(claimant(30 * GiB), gpus, 0, runs));  // never
  runs[0].reclaimable = false;                                    // guaranteed
  EXPECT_FALSE(plan_reclaim(claimant(20 * GiB), gpus, 0, runs));
  runs[0] = run(1, 0, 10 * GiB, /*owner=*/1);  // the claimant's own
  EXPECT_FALSE(plan_reclaim(claimant(20 * GiB), gpus, 0, runs));
}

TEST(Reclaim, TheFewestThenLowestPriorityThenNewest) {
  // 24 GiB, all held: 4 + 4 + 4 + 12. A 10 GiB claimant: the 12 GiB job alone makes room.
  std::vector<GpuView> gpus{{.index = 0, .total_mb = 24 * GiB, .committed_mb = 24 * GiB}};
  std::vector<ReclaimRun> runs{run(1, 0, 4 * GiB, 2, 0, 10), run(2, 0, 4 * GiB, 2, 0, 20),
                               run(3, 0, 4 * GiB, 2, 0, 30), run(4, 0, 12 * GiB, 2, 5, 5)};
  auto r = plan_reclaim(claimant(10 * GiB), gpus, 0, runs);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->victims, (std::vector<JobId>{4}));
  // 6 GiB: one 12 GiB job or two 4 GiB ones; one is fewer.
  r = plan_reclaim(claimant(6 * GiB), gpus, 0, runs);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->victims, (std::vector<JobId>{4}));
  // 4 GiB: any one; the lowest priority, newest: job 3.
  r = plan_reclaim(claimant(4 * GiB), gpus, 0, runs);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->victims, (std::vector<JobId>{3}));
  EXPECT_EQ(r->freed_mb, 4 * GiB);
}

TEST(Reclaim, TheGpuThatCostsLeast) {
  std::vector<GpuView> gpus{{.index = 0, .total_mb = 24 * GiB, .committed_mb = 24 * GiB},
                            {.index = 1, .total_mb = 24 * GiB, .committed_mb = 20 * GiB}};
  std::vector<ReclaimRun> runs{run(1, 0, 12 * GiB), run(2, 0, 12 * GiB), run(3, 1, 4 * GiB),
                               run(4, 1, 4 * GiB), run(5, 1, 12 * GiB)};
  // 12 GiB: GPU 0 (none free) and GPU 1 (4 free) each need one 12 GiB job: the same count and
  // the same memory taken, so the lower index.
  auto r = plan_reclaim(claimant(12 * GiB), gpus, 0, runs);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->gpus, (std::vector<int>{0}));
  // A claimant of two GPUs needs both.
  r = plan_reclaim(claimant(12 * GiB, 1, 2), gpus, 0, runs);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->gpus, (std::vector<int>{0, 1}));
  EXPECT_EQ(r->victims.size(), 2U);
}

TEST(Reclaim, BorrowedNowFollowsStartOrder) {
  std::vector<std::int64_t> mbs{4000, 6000, 3000};
  std::vector<std::int64_t> started{30, 10, 20};
  // In start order: 6000 (in), 3000 (9000 > 8000: borrowed), 4000 (borrowed).
  EXPECT_EQ(borrowed_now(8000, mbs, started), (std::vector<bool>{true, false, true}));
  EXPECT_EQ(borrowed_now(std::nullopt, mbs, started), (std::vector<bool>{false, false, false}));
  EXPECT_EQ(borrowed_now(20000, mbs, started), (std::vector<bool>{false, false, false}));
}

// The oracle: per GPU, every subset of the reclaimable jobs of other owners on it.
struct Oracle {
  bool fits_now = false;
  std::optional<std::size_t> fewest;  // the fewest victims that make room there
};
Oracle oracle(const GpuView& g, const QueuedJob& c, const std::vector<ReclaimRun>& runs) {
  Oracle o;
  if (!g.known) return o;
  std::int64_t free = g.total_mb - g.committed_mb - g.foreign_mb;
  o.fits_now = free >= c.vram_mb;
  std::vector<std::int64_t> mine;
  for (const ReclaimRun& r : runs) {
    if (r.reclaimable && r.owner != c.owner && std::ranges::count(r.gpus, g.index) > 0) {
      mine.push_back(r.vram_mb);
    }
  }
  for (std::uint32_t set = 0; set < (1U << mine.size()); ++set) {
    std::int64_t sum = 0;
    for (std::size_t i = 0; i < mine.size(); ++i)
      if ((set >> i) & 1U) sum += mine[i];
    auto n = static_cast<std::size_t>(std::popcount(set));
    if (free + sum >= c.vram_mb && (!o.fewest || n < *o.fewest)) o.fewest = n;
  }
  return o;
}

TEST(Reclaim, RandomWorldsAgainstAnOracle) {
  std::mt19937 rng(7);
  auto pick = [&](std::int64_t lo, std::int64_t hi) {
    return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng);
  };
  int claims = 0;
  for (int world = 0; world < 8000; ++world) {
    std::vector<GpuView> gpus;
    std::vector<ReclaimRun> runs;
    JobId next = 1;
    for (int g = 0, n = static_cast<int>(pick(1, 3)); g < n; ++g) {
      GpuView v{.index = g,
                .total_mb = GiB * pick(8, 40),
                .foreign_mb = pick(0, 1) * GiB,
                .known = pick(0, 9) != 0};
      for (int j = 0, m = static_cast<int>(pick(0, 7)); j < m; ++j) {
        ReclaimRun r = run(next++, g, GiB * pick(1, 8), static_cast<std::uint32_t>(pick(0, 3)),
                           static_cast<int>(pick(0, 2)), pick(0, 100), pick(0, 2) != 0);
        if (v.committed_mb + v.foreign_mb + r.vram_mb > v.total_mb) continue;
        v.committed_mb += r.vram_mb;
        runs.push_back(r);
      }
      gpus.push_back(v);
    }
    QueuedJob c = claimant(GiB * pick(1, 30), static_cast<std::uint32_t>(pick(0, 3)),
                           pick(0, 4) == 0 ? 2 : 1);
    std::vector<Oracle> o;
    for (const GpuView& g : gpus)
      o.push_back(oracle(g, c, runs));
    auto count = static_cast<std::size_t>(c.gpus);
    std::size_t now = static_cast<std::size_t>(std::ranges::count_if(o, &Oracle::fits_now));
    std::size_t could = static_cast<std::size_t>(
        std::ranges::count_if(o, [](const Oracle& x) { return x.fewest.has_value(); }));
    auto r = plan_reclaim(c, gpus, 0, runs);
    if (!r) {
      // Nothing to take: it fits without, or not even all borrowed jobs would make room.
      EXPECT_TRUE(now >= count || could < count) << "world " << world;
      continue;
    }
    ++claims;
    ASSERT_EQ(r->gpus.size(), count) << "world " << world;
    EXPECT_FALSE(r->victims.empty());
    std::int64_t freed_total = 0;
    for (int g : r->gpus) {
      const GpuView& v = gpus[static_cast<std::size_t>(g)];
      std::int64_t freed = 0;
      std::size_t here = 0;
      for (JobId id : r->victims) {
        const ReclaimRun& victim = *std::ranges::find(runs, id, &ReclaimRun::job);
        // Never a guaranteed job, nor the claimant's owner's.
        EXPECT_TRUE(victim.reclaimable) << "world " << world;
        EXPECT_NE(victim.owner, c.owner) << "world " << world;
        if (std::ranges::count(victim.gpus, g) > 0) {
          freed += victim.vram_mb;
          ++here;
        }
      }
      freed_total += freed;
      // It makes room, with the fewest victims there.
      EXPECT_GE(v.total_mb - v.committed_mb - v.foreign_mb + freed, c.vram_mb) << "world " << world;
      ASSERT_TRUE(o[static_cast<std::size_t>(g)].fewest) << "world " << world;
      EXPECT_EQ(here, *o[static_cast<std::size_t>(g)].fewest) << "world " << world;
      // No GPU left out would have cost fewer victims (one-GPU claimants: per GPU, exactly).
      for (std::size_t h = 0; h < gpus.size() && count == 1; ++h) {
        if (static_cast<int>(h) != g && o[h].fewest) {
          EXPECT_LE(here, *o[h].fewest) << "world " << world;
        }
      }
    }
    EXPECT_EQ(r->freed_mb, freed_total);
  }
  EXPECT_GT(claims, 1000);
}

}  // namespace
}  // namespace vramq::core
