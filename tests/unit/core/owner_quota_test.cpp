// Quotas and limits in a scheduling pass (core/owner_quota.hpp): the rules one by one, then
// random worlds through plan() checked by an oracle that re-adds what each owner and group runs
// from the plan's own starts and the world it was given (not from the planner's counts):
//   1. no start takes an owner or its group past limit_mb or max_running;
//   2. a start is borrowed exactly when it goes above the owner's guarantee (its quota_mb, or for
//      a member without one its group's pool), and only a preemptible job borrows;
//   3. a job kept back with reason `quota` would indeed have passed a limit, or gone above its
//      guarantee without being preemptible, had it started where the pass stood.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>

#include "core/owner_quota.hpp"
#include "core/scheduler.hpp"

namespace vramq::core {
namespace {

QuotaView alice_in_vision() {
  // Owner 1 alice (quota 10, limit 20, at most 3 running) and owner 2 carol (no quota of her
  // own) in group vision (quota 16: a pool of 6 for carol; limit 30); owner 3 bob: no limits.
  QuotaView v;
  v.groups.push_back({.pool_mb = 6, .limit_mb = 30, .max_running = std::nullopt});
  v.owners.resize(4);
  v.owners[1] = {.quota_mb = 10, .limit_mb = 20, .max_running = 3, .group = 0};
  v.owners[2] = {
      .quota_mb = std::nullopt, .limit_mb = std::nullopt, .max_running = std::nullopt, .group = 0};
  return v;
}

TEST(OwnerQuota, GuaranteedThenBorrowedThenAtTheLimit) {
  QuotaView v = alice_in_vision();
  EXPECT_EQ(quota_verdict(v, 1, 10, false), QuotaVerdict::guaranteed);
  EXPECT_EQ(quota_verdict(v, 1, 11, false), QuotaVerdict::waits) << "above quota, not preemptible";
  EXPECT_EQ(quota_verdict(v, 1, 11, true), QuotaVerdict::borrows);
  EXPECT_EQ(quota_verdict(v, 1, 21, true), QuotaVerdict::waits) << "past limit_mb";
  quota_take(v, 1, 8);
  EXPECT_EQ(quota_verdict(v, 1, 2, false), QuotaVerdict::guaranteed);
  EXPECT_EQ(quota_verdict(v, 1, 3, true), QuotaVerdict::borrows);
  quota_take(v, 1, 1);
  quota_take(v, 1, 1);
  EXPECT_EQ(quota_verdict(v, 1, 1, true), QuotaVerdict::waits) << "max_running 3";
  EXPECT_EQ(v.groups[0].held_mb, 10);
  EXPECT_EQ(v.groups[0].pool_held_mb, 0) << "alice's own quota is not the pool";
}

TEST(OwnerQuota, AMemberWithoutAQuotaSharesTheGroupsPoolAndItsLimit) {
  QuotaView v = alice_in_vision();
  EXPECT_EQ(quota_verdict(v, 2, 6, false), QuotaVerdict::guaranteed);
  EXPECT_EQ(quota_verdict(v, 2, 7, false), QuotaVerdict::waits);
  quota_take(v, 2, 6);
  EXPECT_EQ(v.groups[0].pool_held_mb, 6);
  // Alice's guarantee is hers whatever carol holds.
  EXPECT_EQ(quota_verdict(v, 1, 10, false), QuotaVerdict::guaranteed);
  quota_take(v, 1, 10);
  quota_take(v, 2, 14);  // borrowed
  EXPECT_EQ(quota_verdict(v, 1, 1, true), QuotaVerdict::waits) << "the group's limit_mb 30";
  EXPECT_EQ(quota_verdict(v, 3, 1000, false), QuotaVerdict::guaranteed) << "bob: no limits";
  EXPECT_EQ(quota_verdict(v, 99, 1000, false), QuotaVerdict::guaranteed) << "unknown: none";
  EXPECT_EQ(quota_verdict(QuotaView{}, 1, 1000, false), QuotaVerdict::guaranteed);
}

TEST(OwnerQuota, ThePlannerKeepsBackWithReasonQuotaAndMarksBorrowedStarts) {
  std::vector<GpuView> gpus{{.index = 0, .total_mb = 49152}};
  std::vector<QueuedJob> queue;
  for (JobId id = 1; id <= 4; ++id) {
    queue.push_back({.id = id,
                     .priority = 0,
                     .vram_mb = 6000,
                     .queued_at_ms = id,
                     .owner = 1,
                     .preemptible = id != 3});
  }
  QuotaView v = alice_in_vision();
  v.owners[1] = {.quota_mb = 12000, .limit_mb = 20000, .max_running = std::nullopt, .group = -1};
  Decisions d = plan({.queue = queue, .gpus = gpus, .now_ms = 10, .config = {}, .quotas = v});
  ASSERT_EQ(d.starts.size(), 3U);
  EXPECT_FALSE(d.starts[0].borrowed);
  EXPECT_FALSE(d.starts[1].borrowed);
  EXPECT_EQ(d.starts[2].job, 4);  // job 3 is not preemptible: it may not borrow
  EXPECT_TRUE(d.starts[2].borrowed);
  ASSERT_EQ(d.pending.size(), 1U);
  EXPECT_EQ(d.pending[0].job, 3);
  EXPECT_EQ(d.pending[0].reason, PendingReason::quota);
}

// Property test: random owners, groups, running jobs and queues.
struct Limits {
  std::optional<std::int64_t> quota, limit, running;
  int group = -1;
};

TEST(OwnerQuota, RandomWorldsNeverPassALimitAndBorrowExactlyAboveTheGuarantee) {
  for (std::uint32_t seed = 1; seed <= 300; ++seed) {
    std::mt19937 rng(seed);
    auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
    auto maybe = [&](int lo, int hi) -> std::optional<std::int64_t> {
      if (pick(0, 2) == 0) return std::nullopt;
      return pick(lo, hi);
    };
    QuotaView view;
    int groups = pick(0, 2);
    for (int g = 0; g < groups; ++g) {
      view.groups.push_back(
          {.pool_mb = maybe(0, 30000), .limit_mb = maybe(0, 60000), .max_running = maybe(0, 6)});
    }
    int owners = pick(1, 5);
    view.owners.resize(static_cast<std::size_t>(owners) + 1);
    for (int o = 1; o <= owners; ++o) {
      view.owners[static_cast<std::size_t>(o)] = {.quota_mb = maybe(0, 30000),
                                                  .limit_mb = maybe(0, 60000),
                                                  .max_running = maybe(0, 6),
                                                  .group = groups > 0 ? pick(-1, groups - 1) : -1};
    }
    // What already runs (the pass starts from it), added to the view as the service would.
    std::map<std::uint32_t, std::pair<std::int64_t, std::int64_t>> owner_use;  // held, running
    std::map<int, std::pair<std::int64_t, std::int64_t>> group_use;
    std::map<int, std::int64_t> pool_use;
    auto add = [&](QuotaView& v, std::uint32_t o, std::int64_t mb) {
      OwnerQuota& q = v.owners[o];
      q.held_mb += mb;
      ++q.running;
      if (q.group >= 0) {
        GroupQuota& g = v.groups[static_cast<std::size_t>(q.group)];
        g.held_mb += mb;
        ++g.running;
        if (!q.quota_mb) g.pool_held_mb += mb;
      }
    };
    for (int i = pick(0, 4); i > 0; --i)
      add(view, static_cast<std::uint32_t>(pick(1, owners)), pick(1, 8) * 1000);
    std::vector<GpuView> gpus;
    for (int g = pick(1, 3); g > 0; --g)
      gpus.push_back({.index = static_cast<int>(gpus.size()), .total_mb = 1024 * pick(16, 80)});
    std::vector<QueuedJob> queue;
    for (JobId id = 1; id <= pick(1, 40); ++id) {
      queue.push_back({.id = id,
                       .priority = pick(0, 2),
                       .vram_mb = pick(1, 12) * 1000,
                       .queued_at_ms = id,
                       .gpus = pick(1, 2),
                       .owner = static_cast<std::uint32_t>(pick(0, owners)),
                       .preemptible = pick(0, 1) == 1});
    }
    std::ranges::sort(queue, queue_before);
    Decisions d = plan({.queue = queue, .gpus = gpus, .now_ms = 100, .config = {}, .quotas = view});
    // The oracle walks the queue in order, adding the plan's starts to its own copy of the use.
    QuotaView use = view;
    std::map<JobId, const StartDecision*> started;
    for (const StartDecision& s : d.starts)
      started[s.job] = &s;
    std::map<JobId, PendingReason> why;
    for (const PendingDecision& p : d.pending)
      why[p.job] = p.reason;
    for (const QueuedJob& j : queue) {
      std::int64_t need = j.vram_mb * j.gpus;
      const OwnerQuota* o = j.owner < use.owners.size() ? &use.owners[j.owner] : nullptr;
      const GroupQuota* g =
          o != nullptr && o->group >= 0 ? &use.groups[static_cast<std::size_t>(o->group)] : nullptr;
      auto past = [&](auto* h) {
        return h != nullptr && ((h->limit_mb && h->held_mb + need > *h->limit_mb) ||
                                (h->max_running && h->running + 1 > *h->max_running));
      };
      bool above =
          o != nullptr && (o->quota_mb                  ? o->held_mb + need > *o->quota_mb
                           : g != nullptr && g->pool_mb ? g->pool_held_mb + need > *g->pool_mb
                                                        : false);
      SCOPED_TRACE(testing::Message() << "seed " << seed << " job " << j.id);
      if (auto s = started.find(j.id); s != started.end()) {
        EXPECT_FALSE(past(o) || past(g)) << "a start past a limit";
        EXPECT_EQ(s->second->borrowed, above) << "borrowed exactly above the guarantee";
        EXPECT_TRUE(!above || j.preemptible) << "only a preemptible job borrows";
        if (j.owner < use.owners.size()) add(use, j.owner, need);
      } else if (why[j.id] == PendingReason::quota) {
        EXPECT_TRUE(past(o) || past(g) || (above && !j.preemptible)) << "kept back for nothing";
      }
    }
  }
}

}  // namespace
}  // namespace vramq::core
