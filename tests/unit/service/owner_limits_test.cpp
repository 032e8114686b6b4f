// An owner's limits at submission (issue 24): max_priority and max_queued, of the owner and of
// its group, on the service harness (one simulated 24 GiB GPU). The oracle is what the tests
// submitted, not the server's counts: waiting jobs are those the tests know to be queued or
// parked.
#include "service_harness.hpp"

#include <fmt/format.h>

namespace vramq::service {
namespace {

// The service harness with an owners file in force.
class WithOwners : public testing::ServiceTest {
 protected:
  virtual const char* owners_toml() const = 0;
  void SetUp() override {
    ServiceTest::SetUp();
    auto owners = core::parse_owners(owners_toml());
    ASSERT_TRUE(owners) << owners.error().message;
    o_->owners().set(std::make_shared<core::Owners>(std::move(*owners)));
  }
  SubmitRequest as(std::string owner, std::int64_t mb, int priority = 0,
                   std::optional<bool> preemptible = std::nullopt) {
    SubmitRequest req = request(mb);
    req.owner = std::move(owner);
    req.priority = priority;
    req.preemptible = preemptible;
    return req;
  }
};

class OwnerLimitsTest : public WithOwners {
 protected:
  const char* owners_toml() const override {
    return R"(
[groups.vision]
max_queued = 3
max_priority = 50
[owners.alice]
group = "vision"
max_queued = 2
max_priority = 5
[owners.carol]
group = "vision"
[owners.bob]
)";
  }
  boost::system::result<JobView, SubmitError> try_submit(SubmitRequest req) {
    return run(o_->submit(std::move(req)));
  }
};

TEST_F(OwnerLimitsTest, APriorityAboveTheOwnersOrItsGroupsMaxIsForbidden) {
  auto high = try_submit(as("alice", 1000, 6));
  ASSERT_FALSE(high);
  EXPECT_EQ(high.error().code, SubmitErrc::forbidden);
  EXPECT_EQ(high.error().field, "priority");
  EXPECT_NE(high.error().detail.find("max_priority 5 of alice"), std::string::npos)
      << high.error().detail;
  EXPECT_TRUE(try_submit(as("alice", 1000, 5)));
  auto group = try_submit(as("carol", 1000, 51));
  ASSERT_FALSE(group);
  EXPECT_NE(group.error().detail.find("max_priority 50 of group vision"), std::string::npos)
      << group.error().detail;
  EXPECT_TRUE(try_submit(as("bob", 1000, 1000))) << "bob has no limits";
  EXPECT_TRUE(try_submit(as("someone-else", 1000, 1000))) << "a name not in the file: none";
}

TEST_F(OwnerLimitsTest, MaxQueuedCountsWaitingJobsAndLetsAJobThatStartsAtOnceIn) {
  ASSERT_TRUE(try_submit(as("alice", 20000)));   // runs
  ASSERT_TRUE(try_submit(as("alice", 20000)));   // waits: 1
  auto second = try_submit(as("alice", 20000));  // waits: 2
  ASSERT_TRUE(second);
  auto third = try_submit(as("alice", 20000));
  ASSERT_FALSE(third);
  EXPECT_EQ(third.error().code, SubmitErrc::queue_full);
  EXPECT_GT(third.error().retry_after_s, 0);
  EXPECT_NE(third.error().detail.find("alice has 2 jobs waiting, its max_queued is 2"),
            std::string::npos)
      << third.error().detail;
  EXPECT_TRUE(try_submit(as("bob", 20000))) << "another owner's jobs are not alice's";
  // A job that fits at once never waits: as with --queue-max, it is let in.
  EXPECT_TRUE(try_submit(as("alice", 1000)));
  // Cancelling a waiting job makes room again.
  ASSERT_TRUE(run(o_->cancel(second->job.id, Caller{})));
  EXPECT_TRUE(try_submit(as("alice", 20000)));
}

TEST_F(OwnerLimitsTest, TheGroupsMaxQueuedCountsEveryMember) {
  ASSERT_TRUE(try_submit(as("bob", 20000)));  // runs, and takes the GPU
  ASSERT_TRUE(try_submit(as("alice", 20000)));
  ASSERT_TRUE(try_submit(as("carol", 20000)));
  ASSERT_TRUE(try_submit(as("carol", 20000)));  // the group: 3 waiting
  auto fourth = try_submit(as("carol", 20000));
  ASSERT_FALSE(fourth);
  EXPECT_NE(fourth.error().detail.find("group vision has 3 jobs waiting, its max_queued is 3"),
            std::string::npos)
      << fourth.error().detail;
}

TEST_F(OwnerLimitsTest, JobsParkedOnADependencyCountAsWaiting) {
  core::JobId running = submit(as("bob", 20000));
  SubmitRequest after = as("alice", 1000);
  after.after_ok = {running};
  ASSERT_TRUE(try_submit(std::move(after)));  // parked
  SubmitRequest again = as("alice", 1000);
  again.after_ok = {running};
  ASSERT_TRUE(try_submit(std::move(again)));  // parked: 2
  auto third = try_submit(as("alice", 20000));
  ASSERT_FALSE(third);
  EXPECT_EQ(third.error().code, SubmitErrc::queue_full);
}

TEST_F(OwnerLimitsTest, WithoutOwnersNothingIsLimited) {
  o_->owners().set(nullptr);
  EXPECT_TRUE(try_submit(as("alice", 1000, 1000)));
  for (int i = 0; i < 4; ++i)
    EXPECT_TRUE(try_submit(as("alice", 20000)));
}

// Quotas in the scheduling pass (core/owner_quota.hpp) on the service harness: one 24 GiB GPU.
class OwnerQuotaTest : public WithOwners {
 protected:
  const char* owners_toml() const override {
    return R"(
[owners.alice]
quota_mb = 8000
limit_mb = 16000
[owners.bob]
max_running = 1
)";
  }
  JobView view_of(core::JobId id) { return **run(o_->get(id)); }
};

TEST_F(OwnerQuotaTest, MaxRunningKeepsTheNextJobBackWithItsFigures) {
  core::JobId first = submit(as("bob", 1000));
  core::JobId second = submit(as("bob", 1000));
  EXPECT_EQ(job(first).state, core::JobState::running);
  JobView v = view_of(second);
  EXPECT_EQ(v.pending_reason, core::PendingReason::quota);
  EXPECT_EQ(v.quota, "bob runs 1 jobs, its max_running is 1");
  exec_->exit(first, 0);
  settle();
  EXPECT_EQ(job(second).state, core::JobState::running) << "its turn once the first ended";
}

TEST_F(OwnerQuotaTest, AboveItsGuaranteeAPreemptibleJobBorrowsAndAnotherWaits) {
  core::JobId guaranteed = submit(as("alice", 6000));
  core::JobId stays = submit(as("alice", 6000));  // 12000 > quota 8000, not preemptible
  JobView v = view_of(stays);
  EXPECT_EQ(v.pending_reason, core::PendingReason::quota);
  EXPECT_NE(v.quota.find("alice holds 6000 MiB of its quota_mb 8000; this job needs 6000 more "
                         "and is not preemptible"),
            std::string::npos)
      << v.quota;
  core::JobId borrows = submit(as("alice", 6000, 0, true));
  EXPECT_EQ(job(guaranteed).state, core::JobState::running);
  EXPECT_FALSE(job(guaranteed).borrowed);
  EXPECT_EQ(job(borrows).state, core::JobState::running);
  EXPECT_TRUE(job(borrows).borrowed);
  EXPECT_TRUE(store_->rows().at(borrows).borrowed) << "stored: a restart knows what is borrowed";
  // Past limit_mb nothing starts, preemptible or not.
  core::JobId over = submit(as("alice", 6000, 0, true));
  EXPECT_EQ(view_of(over).pending_reason, core::PendingReason::quota);
  EXPECT_NE(view_of(over).quota.find("limit_mb 16000"), std::string::npos) << view_of(over).quota;
}

}  // namespace
}  // namespace vramq::service
