#include "core/parked_jobs.hpp"

#include <gtest/gtest.h>

namespace vramq::core {
namespace {

std::vector<JobId> ids(const auto& list) {
  std::vector<JobId> out;
  for (const auto& x : list)
    out.push_back(x.id);
  return out;
}

TEST(ParkedJobs, ReleasedOnceEveryDependencyHasEnded) {
  ParkedJobs p;
  p.park(10, "r10", PendingReason::dependency, {1, 2}, {3});
  EXPECT_TRUE(p.contains(10));
  EXPECT_EQ(p.reason(10), PendingReason::dependency);
  EXPECT_TRUE(p.on_end(1, true).released.empty());
  EXPECT_TRUE(p.on_end(3, false).released.empty());  // `any`: however it ended
  auto out = p.on_end(2, true);
  ASSERT_EQ(ids(out.released), std::vector<JobId>{10});
  EXPECT_EQ(out.released[0].record, "r10");
  EXPECT_FALSE(p.contains(10));
  EXPECT_EQ(p.size(), 0u);
}

TEST(ParkedJobs, AnOkDependencyThatFailsDoomsItsDependents) {
  ParkedJobs p;
  p.park(10, "r10", PendingReason::dependency, {1}, {});
  p.park(11, "r11", PendingReason::dependency, {}, {1});
  p.park(12, "r12", PendingReason::dependency, {1, 2}, {});
  auto out = p.on_end(1, false);
  EXPECT_EQ(ids(out.doomed), (std::vector<JobId>{10, 12}));
  EXPECT_EQ(out.doomed[0].because, 1);
  EXPECT_EQ(ids(out.released), std::vector<JobId>{11});
  EXPECT_EQ(p.size(), 0u);
  EXPECT_TRUE(p.on_end(2, true).released.empty());  // 12 is gone: nothing left waits for 2
}

TEST(ParkedJobs, TheSameJobInOkAndAnyCountsOnce) {
  ParkedJobs p;
  p.park(10, "r", PendingReason::dependency, {1}, {1});
  auto out = p.on_end(1, true);
  EXPECT_EQ(ids(out.released), std::vector<JobId>{10});
  ParkedJobs q;
  q.park(10, "r", PendingReason::dependency, {1}, {1});
  EXPECT_EQ(ids(q.on_end(1, false).doomed), std::vector<JobId>{10});
}

TEST(ParkedJobs, RetryDelaysComeDueInTimeOrder) {
  ParkedJobs p;
  p.park(5, "r5", PendingReason::retry_delay, {}, {}, 3000);
  p.park(4, "r4", PendingReason::retry_delay, {}, {}, 1000);
  EXPECT_EQ(p.next_due_ms(), 1000);
  EXPECT_TRUE(p.due(999).empty());
  EXPECT_EQ(ids(p.due(1000)), std::vector<JobId>{4});
  EXPECT_EQ(p.next_due_ms(), 3000);
  EXPECT_EQ(ids(p.due(5000)), std::vector<JobId>{5});
  EXPECT_EQ(p.next_due_ms(), std::nullopt);
}

TEST(ParkedJobs, EraseForgetsEveryIndex) {
  ParkedJobs p;
  p.park(10, "r", PendingReason::dependency, {1}, {2});
  p.park(11, "r", PendingReason::retry_delay, {}, {}, 50);
  EXPECT_TRUE(p.erase(10));
  EXPECT_FALSE(p.erase(10));
  EXPECT_TRUE(p.erase(11));
  EXPECT_TRUE(p.on_end(1, false).doomed.empty());
  EXPECT_TRUE(p.due(100).empty());
  EXPECT_EQ(p.next_due_ms(), std::nullopt);
  EXPECT_EQ(p.record(10), nullptr);
  EXPECT_EQ(p.reason(10), PendingReason::none);
}

TEST(ParkedJobs, ParkingAgainReplaces) {
  ParkedJobs p;
  p.park(10, "old", PendingReason::dependency, {1}, {});
  p.park(10, "new", PendingReason::retry_delay, {}, {}, 100);
  EXPECT_TRUE(p.on_end(1, false).doomed.empty());  // no longer waits for 1
  EXPECT_EQ(*p.record(10), "new");
  EXPECT_EQ(ids(p.due(100)), std::vector<JobId>{10});
}

TEST(ParkedJobs, NewestBeforePagesById) {
  ParkedJobs p;
  for (JobId id : {3, 7, 5, 9})
    p.park(id, "r", PendingReason::dependency, {1}, {});
  EXPECT_EQ(p.newest_before(0, 10), (std::vector<JobId>{9, 7, 5, 3}));
  EXPECT_EQ(p.newest_before(7, 2), (std::vector<JobId>{5, 3}));
}

}  // namespace
}  // namespace vramq::core
