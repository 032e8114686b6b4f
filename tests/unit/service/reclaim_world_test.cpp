// Quotas, borrowing and reclaim over random worlds (issue 24): three owners with guarantees on
// two GPUs, random jobs arriving and ending, through the real queue, planner, quota rules and
// service::Reclaimer, on a simulated clock (a pass a second, victims gone after the grace).
// The oracle does not call the planner; from the runs alone it checks: never over a GPU or an
// owner's limit_mb; a preempted job was borrowed when it was taken (by its owner's runs in start
// order); and an owner kept under its guarantee while others' borrowed jobs could make room gets
// its job started within the grace plus a pass per claim ahead of it.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <vector>

#include "core/job_queue.hpp"
#include "core/owner_quota.hpp"
#include "core/reclaim.hpp"
#include "service/reclaimer.hpp"

namespace vramq::service {
namespace {

using core::JobId;

struct SimJob {
  JobId id = 0;
  std::uint32_t owner = 0;
  std::int64_t mb = 0;
  std::int64_t run_s = 0;
  bool preemptible = false;
};

struct SimRun {
  SimJob job;
  int gpu = 0;
  std::int64_t start_s = 0;
  std::int64_t end_s = 0;       // its own end
  std::int64_t stopped_s = -1;  // when a reclaim's grace ends (-1: not stopped)
  bool borrowed = false;
};

constexpr std::int64_t kGpuMb = 24 * 1024;
constexpr std::int64_t kBuffer = 1024;
constexpr std::int64_t kGrace = 3;  // seconds: victims are gone this long after their stop
const std::int64_t kQuota[] = {0, 14'000, 14'000, 8'000};  // owners 1-3; 36,000 of 47,104
const std::int64_t kLimit[] = {0, 40'000, 40'000, 40'000};

// Borrowed, by the oracle's own count: past its owner's quota among its runs in start order.
bool beyond_quota(const std::vector<SimRun>& running, const SimRun& r) {
  std::int64_t before = 0;
  for (const SimRun& o : running) {
    if (o.job.owner == r.job.owner &&
        (o.start_s < r.start_s || (o.start_s == r.start_s && o.job.id < r.job.id))) {
      before += o.job.mb;
    }
  }
  return before + r.job.mb > kQuota[r.job.owner];
}

TEST(ReclaimWorld, GuaranteesHoldAndOnlyBorrowedJobsAreTaken) {
  int claims = 0;
  int guarantee_waits = 0;
  for (unsigned seed = 1; seed <= 40; ++seed) {
    std::mt19937 rng(seed);
    auto pick = [&](std::int64_t lo, std::int64_t hi) {
      return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng);
    };
    core::JobQueue queue;
    Reclaimer reclaimer(kGrace * 1000);
    std::map<JobId, SimJob> jobs;
    std::vector<SimRun> running;
    JobId next = 1;
    // Per owner: since when its first queued job has been covered by its guarantee and
    // reclaimable room existed for it (-1: not so).
    std::map<std::uint32_t, std::int64_t> owed_since;
    for (std::int64_t t = 0; t < 600; ++t) {
      // Ends: runs that finished, and victims past their grace (queued again).
      std::erase_if(running, [&](const SimRun& r) {
        if (r.stopped_s >= 0 && t >= r.stopped_s) {
          queue.push({.id = r.job.id,
                      .vram_mb = r.job.mb,
                      .queued_at_ms = t * 1000,
                      .owner = r.job.owner,
                      .preemptible = r.job.preemptible},
                     {});
          return true;
        }
        return r.stopped_s < 0 && t >= r.end_s;
      });
      // Arrivals: owner 1 floods early; 2 and 3 come and go.
      for (std::uint32_t o = 1; o <= 3; ++o) {
        bool busy = o == 1 ? t < 300 : (t / 50) % 3 == o - 1;
        if (!busy || pick(0, 2) != 0) continue;
        SimJob j{.id = next++,
                 .owner = o,
                 .mb = 1000 * pick(2, 9),
                 .run_s = pick(5, 60),
                 .preemptible = pick(0, 3) != 0};
        jobs[j.id] = j;
        queue.push({.id = j.id,
                    .vram_mb = j.mb,
                    .queued_at_ms = t * 1000,
                    .owner = o,
                    .preemptible = j.preemptible},
                   {});
      }
      // The views, from the runs.
      auto views_now = [&] {
        std::vector<core::GpuView> v{{.index = 0, .total_mb = kGpuMb},
                                     {.index = 1, .total_mb = kGpuMb}};
        for (const SimRun& r : running)
          v[static_cast<std::size_t>(r.gpu)].committed_mb += r.job.mb;
        return v;
      };
      auto quota_view = [&] {
        core::QuotaView q;
        q.owners.resize(4);
        for (std::uint32_t o = 1; o <= 3; ++o)
          q.owners[o] = {.quota_mb = kQuota[o], .limit_mb = kLimit[o]};
        for (const SimRun& r : running) {
          q.owners[r.job.owner].held_mb += r.job.mb;
          ++q.owners[r.job.owner].running;
        }
        return q;
      };
      auto start = [&](JobId id, int gpu, bool borrowed) {
        const SimJob& j = jobs.at(id);
        running.push_back(
            {.job = j, .gpu = gpu, .start_s = t, .end_s = t + j.run_s, .borrowed = borrowed});
        queue.erase(id);
      };
      std::vector<core::GpuView> views = views_now();
      bool claimant_queued = reclaimer.claim() && queue.contains(reclaimer.claim()->claimant.id);
      if (auto s = reclaimer.before_pass(claimant_queued, views, kBuffer, t * 1000)) {
        start(s->job, s->gpus.front(), false);
        views = views_now();
      }
      core::QuotaView quotas = quota_view();
      if (!reclaimer.claim()) {
        // Borrowed now, as the server recomputes it, and the candidates it looks at.
        std::vector<core::ReclaimRun> runs;
        for (const SimRun& r : running) {
          runs.push_back(
              {.job = r.job.id,
               .owner = r.job.owner,
               .started_at_ms = r.start_s * 1000,
               .gpus = {r.gpu},
               .vram_mb = r.job.mb,
               .reclaimable = r.job.preemptible && r.stopped_s < 0 && beyond_quota(running, r)});
        }
        std::vector<core::QueuedJob> candidates;
        for (JobId id : queue.owner_heads()) {
          const core::QueuedJob* q = queue.job(id);
          auto place = queue.place(id);
          if (q != nullptr && place && core::waits_for_room(place->reason) &&
              core::quota_verdict(quotas, q->owner, q->vram_mb, false) ==
                  core::QuotaVerdict::guaranteed) {
            candidates.push_back(*q);
          }
        }
        core::Holds holds;
        for (int g = 0; g < 2; ++g) {
          if (const core::QueuedJob* h = queue.job(queue.holder(g))) {
            bool borrows = core::quota_verdict(quotas, h->owner, h->vram_mb, h->preemptible) ==
                           core::QuotaVerdict::borrows;
            (borrows ? holds.overridden : holds.respected).push_back(g);
          }
        }
        if (auto claim = reclaimer.make(candidates, views, kBuffer, runs, holds, t * 1000)) {
          ++claims;
          for (JobId v : claim->victims) {
            auto r = std::ranges::find(running, v, [](const SimRun& x) { return x.job.id; });
            ASSERT_NE(r, running.end());
            // Oracle: never a guaranteed job, never the claimant's owner's.
            EXPECT_TRUE(beyond_quota(running, *r)) << "seed " << seed << " t " << t;
            EXPECT_TRUE(r->job.preemptible);
            EXPECT_NE(r->job.owner, claim->claimant.owner);
            r->stopped_s = t + kGrace;
          }
          if (claim->victims.empty()) {  // free room held for a borrower: it starts now
            auto s = reclaimer.before_pass(true, views, kBuffer, t * 1000);
            ASSERT_TRUE(s);
            start(s->job, s->gpus.front(), false);
            views = views_now();
          }
        }
      }
      core::Planner planner(views, t * 1000, {.buffer_mb = kBuffer, .backfill_bound_ms = 300'000},
                            false, queue.min_vram_mb());
      planner.use_quotas(quotas);
      for (const core::StartDecision& s : queue.pass(std::move(planner))) {
        start(s.job, s.gpu, s.borrowed);
      }
      if (const auto& c = reclaimer.claim()) {
        queue.set_reason(c->claimant.id, core::PendingReason::reclaiming);
      }
      // Oracle: never over a GPU, never over a limit.
      std::vector<std::int64_t> on_gpu(2, 0);
      std::vector<std::int64_t> held(4, 0);
      for (const SimRun& r : running) {
        on_gpu[static_cast<std::size_t>(r.gpu)] += r.job.mb;
        held[r.job.owner] += r.job.mb;
      }
      for (std::int64_t g : on_gpu)
        EXPECT_LE(g, kGpuMb - kBuffer) << "seed " << seed << " t " << t;
      for (std::uint32_t o = 1; o <= 3; ++o)
        EXPECT_LE(held[o], kLimit[o]) << "seed " << seed << " t " << t;
      // Oracle: an owner owed its guarantee gets it within the grace plus a pass per claim
      // (three owners: at most two claims ahead of its own).
      for (std::uint32_t o = 1; o <= 3; ++o) {
        std::optional<std::int64_t> need;
        for (const core::QueuedJob& q : queue.snapshot()) {
          if (q.owner == o) {
            need = q.vram_mb;
            break;
          }
        }
        bool owed = false;
        if (need && held[o] + *need <= kQuota[o]) {
          for (int g = 0; g < 2; ++g) {
            std::int64_t room = kGpuMb - kBuffer - on_gpu[static_cast<std::size_t>(g)];
            for (const SimRun& r : running) {
              if (r.gpu == g && r.job.owner != o && r.job.preemptible && r.stopped_s < 0 &&
                  beyond_quota(running, r)) {
                room += r.job.mb;
              }
            }
            owed = owed || room >= *need;
          }
        }
        if (!owed) {
          owed_since.erase(o);
          continue;
        }
        auto [it, fresh] = owed_since.try_emplace(o, t);
        if (!fresh) ++guarantee_waits;
        EXPECT_LE(t - it->second, 3 * (kGrace + 2)) << "seed " << seed << " owner " << o;
      }
    }
  }
  EXPECT_GT(claims, 100);
  EXPECT_GT(guarantee_waits, 100);  // owners were owed their guarantee and waited for it
}

}  // namespace
}  // namespace vramq::service
