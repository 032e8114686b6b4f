// Admission on the service harness: the queue cap and its Retry-After, Idempotency-Key replays
// and conflicts, dry runs that store nothing, drain, and a store at fault (submissions refused
// at once, accepted jobs' changes kept in order until it writes again).
#include "service_harness.hpp"

namespace vramq::service {
namespace {
using core::JobState;

class Admission : public testing::ServiceTest {
 protected:
  void configure() override { config_.queue_max = 2; }
  boost::system::result<JobView, SubmitError> try_submit(SubmitRequest req) {
    return run(o_->submit(std::move(req)));
  }
  SubmitRequest keyed(std::int64_t mb, std::string key, std::string body_hash) {
    SubmitRequest req = request(mb);
    req.idempotency_key = std::move(key);
    req.body_hash = std::move(body_hash);
    return req;
  }
};

TEST_F(Admission, AFullQueueRefusesWithRetryAfterButAJobThatStartsAtOnceGetsIn) {
  submit(20000);  // runs
  submit(20000);  // queued
  submit(20000);  // queued: the queue holds 2
  auto refused = try_submit(request(20000));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, SubmitErrc::queue_full);
  EXPECT_GT(refused.error().retry_after_s, 0);
  EXPECT_EQ(o_->health().queued, 2U);
  // Something that fits now starts at once: it does not wait in the queue.
  EXPECT_TRUE(try_submit(request(1000)));
}

TEST_F(Admission, AKeyReplaysItsJobAndRefusesAnotherBody) {
  auto first = try_submit(keyed(1000, "k-1", "hash-a"));
  ASSERT_TRUE(first);
  auto again = try_submit(keyed(1000, "k-1", "hash-a"));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->job.id, first->job.id);
  EXPECT_TRUE(again->replayed);
  auto other = try_submit(keyed(2000, "k-1", "hash-b"));
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code, SubmitErrc::conflict);
  EXPECT_EQ(other.error().field, "Idempotency-Key");
  EXPECT_EQ(store_->rows().size(), 1U);
}

TEST_F(Admission, ADryRunSaysWhatWouldHappenAndStoresNothing) {
  submit(20000);
  auto dry = o_->dry_run(request(8000));
  ASSERT_TRUE(dry);
  EXPECT_EQ(dry->vram_mb, 8000);
  EXPECT_FALSE(dry->start);
  ASSERT_TRUE(dry->pending);
  EXPECT_EQ(dry->pending->reason, core::PendingReason::vram);
  auto fits = o_->dry_run(request(2000));
  ASSERT_TRUE(fits);
  EXPECT_TRUE(fits->start);
  settle();
  EXPECT_EQ(store_->rows().size(), 1U);
  EXPECT_EQ(exec_->started.size(), 1U);
}

TEST_F(Admission, ARequestNoGpuCouldHoldIsRefusedNamingTheField) {
  auto refused = try_submit(request(90000));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, SubmitErrc::unprocessable);
  EXPECT_EQ(refused.error().field, "vram_mb");
  SubmitRequest unknown{.task = "nope"};
  auto no_task = try_submit(std::move(unknown));
  ASSERT_FALSE(no_task);
  EXPECT_EQ(no_task.error().field, "task");
  SubmitRequest raw{.command = {"/bin/true"}};
  auto forbidden = try_submit(std::move(raw));
  ASSERT_FALSE(forbidden);
  EXPECT_EQ(forbidden.error().code, SubmitErrc::forbidden);
  EXPECT_TRUE(store_->rows().empty());
}

TEST_F(Admission, AFullStoreRefusesSubmissionsAndKeepsAcceptedChangesInOrder) {
  core::JobId a = submit(1000);
  store_->fail(store::StoreFault::full, "database or disk is full");
  auto refused = try_submit(request(1000));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, SubmitErrc::storage_full);
  EXPECT_EQ(refused.error().retry_after_s, 30);
  EXPECT_FALSE(o_->health().ready());
  // The running job ends while nothing can be written: nothing of it is lost.
  exec_->exit(a, 0);
  settle();
  EXPECT_EQ(store_->rows().at(a).state, JobState::running) << "not written yet";
  store_->clear();
  settle();
  EXPECT_EQ(store_->rows().at(a).state, JobState::succeeded);
  EXPECT_EQ(job(a).state, JobState::succeeded);
  EXPECT_TRUE(o_->health().ready());
  EXPECT_EQ(submit(1000), a + 1) << "the refused submission used no id";
}

TEST_F(Admission, ALockedStoreRefusesWithItsOwnRetryAfter) {
  store_->fail(store::StoreFault::busy, "database is locked");
  auto refused = try_submit(request(1000));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, SubmitErrc::store_unavailable);
  EXPECT_EQ(refused.error().retry_after_s, 5);
}

TEST_F(Admission, ADrainingServerTakesNothingNewAndStartsNothing) {
  core::JobId a = submit(20000);
  core::JobId b = submit(20000);
  auto drained = boost::asio::co_spawn(ioc_, o_->drain(), boost::asio::use_future);
  settle();
  auto refused = try_submit(request(1000));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, SubmitErrc::draining);
  exec_->exit(a, 0);
  settle();
  EXPECT_FALSE(exec_->runs(b)) << "nothing starts while draining";
  auto v = run(o_->get(b));
  EXPECT_EQ((*v)->pending_reason, core::PendingReason::draining);
  ASSERT_TRUE(until(
      [&] { return drained.wait_for(std::chrono::seconds(0)) == std::future_status::ready; }));
}

}  // namespace
}  // namespace vramq::service
