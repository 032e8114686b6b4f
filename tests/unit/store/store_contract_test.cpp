// The contract of store/store.hpp, checked on both stores: what the service's unit tests learn
// on the in-memory store holds on the SQLite one that production runs.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "store/job_store.hpp"
#include "store/memory_store.hpp"
#include "temp_dir.hpp"

namespace vramq::store {
namespace {
namespace asio = boost::asio;
using core::Job;
using core::JobState;

struct SqliteMaker {
  static std::unique_ptr<Store> make(asio::io_context& ioc, const std::string& dir) {
    auto s = JobStore::open(dir + "/vramq.db", ioc.get_executor());
    EXPECT_TRUE(s) << s.error().message;
    return std::move(*s);
  }
};
struct MemoryMaker {
  static std::unique_ptr<Store> make(asio::io_context& ioc, const std::string&) {
    return std::make_unique<MemoryStore>(ioc.get_executor());
  }
};

template <class Maker>
class StoreContract : public ::testing::Test {
 protected:
  void SetUp() override { store_ = Maker::make(ioc_, dir_.path().string()); }

  Job job(core::JobId id, JobState state = JobState::queued, std::int64_t finished_at_ms = 0) {
    Job j;
    j.id = id;
    j.state = state;
    j.spec.task = "t";
    j.spec.argv = {"/bin/true"};
    j.spec.name = id % 2 == 0 ? "even" : "odd";
    j.spec.owner = id <= 3 ? "ann" : "bob";
    j.spec.labels = {{"stage", id == 4 ? "eval" : "train"}};
    j.output = "out";
    j.finished_at_ms = finished_at_ms;
    return j;
  }
  // Saves and waits until it is done; its result.
  core::Result<void> save(Job j, std::optional<Store::IdempotencyRecord> key = std::nullopt,
                          std::optional<Store::FootprintRecord> footprint = std::nullopt,
                          Store::SaveMode mode = Store::SaveMode::until_durable) {
    std::optional<core::Result<void>> r;
    store_->save(
        std::move(j), [&](core::Result<void> done) { r = done; }, std::move(key),
        std::move(footprint), mode);
    while (!r)
      ioc_.run_one();
    return *r;
  }
  template <class T>
  T await(asio::awaitable<T> a) {
    auto f = asio::co_spawn(ioc_, std::move(a), asio::use_future);
    while (f.wait_for(std::chrono::seconds(0)) != std::future_status::ready)
      ioc_.run_one();
    return f.get();
  }
  std::vector<core::JobId> ids(Store::ListQuery q) {
    auto listed = await(store_->list(std::move(q)));
    EXPECT_TRUE(listed);
    std::vector<core::JobId> out;
    for (const Job& j : *listed) {
      EXPECT_EQ(j.output, "") << "lists leave the output out";
      out.push_back(j.id);
    }
    return out;
  }
  std::vector<core::JobId> prune(Store::Prune what) {
    std::optional<core::Result<std::vector<core::JobId>>> r;
    store_->prune_ended(what, [&](core::Result<std::vector<core::JobId>> done) { r = done; });
    while (!r)
      ioc_.run_one();
    EXPECT_TRUE(*r);
    return **r;
  }

  vramq::testing::TempDir dir_;
  asio::io_context ioc_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(ioc_);
  std::unique_ptr<Store> store_;
};

using Stores = ::testing::Types<SqliteMaker, MemoryMaker>;
TYPED_TEST_SUITE(StoreContract, Stores);

TYPED_TEST(StoreContract, SavedRowsAreReadBackAndUnfinishedOnesLoaded) {
  ASSERT_TRUE(this->save(this->job(1)));
  ASSERT_TRUE(this->save(this->job(2, JobState::running)));
  ASSERT_TRUE(this->save(this->job(3, JobState::succeeded, 10)));
  Job changed = this->job(1);
  changed.state = JobState::failed;
  changed.error = "boom";
  ASSERT_TRUE(this->save(changed));  // a save replaces the row
  auto got = this->await(this->store_->get(1));
  ASSERT_TRUE(got && *got);
  EXPECT_EQ((*got)->state, JobState::failed);
  EXPECT_EQ((*got)->error, "boom");
  EXPECT_EQ((*got)->output, "out");
  EXPECT_FALSE(*this->await(this->store_->get(99)));
  auto unfinished = this->store_->load_unfinished();
  ASSERT_TRUE(unfinished);
  ASSERT_EQ(unfinished->size(), 1U);
  EXPECT_EQ(unfinished->front().id, 2);
  EXPECT_EQ(*this->store_->max_id(), 3);
  EXPECT_EQ(**this->store_->state_blocking(3), JobState::succeeded);
  EXPECT_FALSE(*this->store_->state_blocking(99));
}

// Usage rows add up per day, owner and task and are read back grouped as asked.
TYPED_TEST(StoreContract, UsageAddsUpAndGroups) {
  auto& store = *this->store_;
  store.add_usage({.day = 10, .owner = "ann", .task = "t", .runs = 1, .reserved_mib_s = 100});
  store.add_usage({.day = 10, .owner = "ann", .task = "t", .runs = 1, .reserved_mib_s = 20});
  store.add_usage({.day = 11, .owner = "ann", .task = "u", .runs = 1, .gpu_s = 5});
  store.add_usage({.day = 11, .owner = "bob", .task = "t", .runs = 1, .preempted = 1});
  ASSERT_TRUE(this->save(this->job(1)));  // after them in order: they are stored too
  auto rows = store.load_usage(11);
  ASSERT_TRUE(rows);
  EXPECT_EQ(rows->size(), 2U);
  auto grouped = this->await(store.usage({.from_day = 0, .to_day = 100}));
  ASSERT_TRUE(grouped);
  ASSERT_EQ(grouped->size(), 2U);
  EXPECT_EQ(
      (*grouped)[0],
      (UsageRow{
          .day = 0, .owner = "ann", .task = "", .runs = 3, .reserved_mib_s = 120, .gpu_s = 5}));
  EXPECT_EQ((*grouped)[1].preempted, 1);
  auto bob_by_day = this->await(store.usage(
      {.from_day = 0, .to_day = 100, .by_owner = false, .by_day = true, .owner = "bob"}));
  ASSERT_TRUE(bob_by_day);
  ASSERT_EQ(bob_by_day->size(), 1U);
  EXPECT_EQ((*bob_by_day)[0].day, 11);
  EXPECT_EQ((*bob_by_day)[0].owner, "");
}

TYPED_TEST(StoreContract, SavesCompleteOnTheLoopInOrderNeverInsideSave) {
  std::vector<core::JobId> done;
  for (core::JobId id = 1; id <= 5; ++id) {
    this->store_->save(this->job(id), [&done, id](core::Result<void> r) {
      EXPECT_TRUE(r);
      done.push_back(id);
    });
  }
  EXPECT_TRUE(done.empty());
  while (done.size() < 5)
    this->ioc_.run_one();
  EXPECT_EQ(done, (std::vector<core::JobId>{1, 2, 3, 4, 5}));
}

TYPED_TEST(StoreContract, ListsFilterNewestFirstWithoutOutput) {
  for (core::JobId id = 1; id <= 6; ++id)
    ASSERT_TRUE(this->save(this->job(id, id == 6 ? JobState::running : JobState::succeeded, id)));
  Store::ListQuery all{.states = {JobState::succeeded}, .limit = 10};
  EXPECT_EQ(this->ids(all), (std::vector<core::JobId>{5, 4, 3, 2, 1}));
  Store::ListQuery page = all;
  page.before = 4;
  page.limit = 2;
  EXPECT_EQ(this->ids(page), (std::vector<core::JobId>{3, 2}));
  Store::ListQuery named = all;
  named.name = "even";
  EXPECT_EQ(this->ids(named), (std::vector<core::JobId>{4, 2}));
  Store::ListQuery owned = all;
  owned.owner = "ann";
  owned.at_least = 2;
  EXPECT_EQ(this->ids(owned), (std::vector<core::JobId>{3, 2}));
  Store::ListQuery labelled = all;
  labelled.label = std::pair<std::string, std::string>{"stage", "eval"};
  EXPECT_EQ(this->ids(labelled), (std::vector<core::JobId>{4}));
  EXPECT_TRUE(this->ids({.states = {}, .limit = 10}).empty());
}

TYPED_TEST(StoreContract, KeysAreUniqueFoundInTheirWindowAndGoWithTheirJob) {
  Store::IdempotencyRecord key{.key = "k", .body_hash = "h", .job = 1, .created_at_ms = 1000};
  ASSERT_TRUE(this->save(this->job(1, JobState::succeeded, 5), key));
  key.job = 2;
  EXPECT_FALSE(this->save(this->job(2), key, std::nullopt, Store::SaveMode::once));
  EXPECT_FALSE(*this->await(this->store_->get(2))) << "a refused save writes no row";
  auto found = this->await(this->store_->find_key("k", 0));
  ASSERT_TRUE(found && *found);
  EXPECT_EQ((*found)->job, 1);
  EXPECT_FALSE(*this->await(this->store_->find_key("k", 1001)));  // older than the window
  std::optional<core::Result<void>> purged;
  this->store_->purge(1, [&](core::Result<void> r) { purged = r; });
  while (!purged)
    this->ioc_.run_one();
  EXPECT_TRUE(*purged);
  EXPECT_FALSE(*this->await(this->store_->find_key("k", 0)));
  EXPECT_EQ(*this->store_->max_id(), 1) << "a purged id is never handed out again";
}

TYPED_TEST(StoreContract, PruneTakesTheOldestEndedByAgeAndCountNeverALiveJob) {
  for (core::JobId id = 1; id <= 6; ++id) {
    Job j = this->job(id, id == 3 ? JobState::running : JobState::succeeded, 100 * id);
    j.worker = id == 6 ? 9 : 0;
    ASSERT_TRUE(this->save(j));
  }
  EXPECT_EQ(this->prune({.ended_before_ms = 250}), (std::vector<core::JobId>{1, 2}));
  EXPECT_EQ(this->prune({.keep = 2}), (std::vector<core::JobId>{4}));  // 4, 5, 6 ended: keep 2
  EXPECT_EQ(this->prune({.keep = 2}), (std::vector<core::JobId>{}));
  EXPECT_EQ(this->prune({.ended_before_ms = 10'000, .limit = 1}), (std::vector<core::JobId>{5}));
  EXPECT_EQ(this->prune({.ended_before_ms = 10'000}), (std::vector<core::JobId>{6}));
  EXPECT_TRUE(*this->await(this->store_->get(3))) << "a running job is never pruned";
  EXPECT_EQ(*this->store_->max_id(), 6);
  EXPECT_EQ(*this->store_->max_worker_id(), 9) << "a removed job's worker id is remembered";
}

TYPED_TEST(StoreContract, FootprintsKeepTheNewest50PerBucket) {
  for (core::JobId id = 1; id <= 55; ++id) {
    ASSERT_TRUE(this->save(this->job(id, JobState::succeeded, id), std::nullopt,
                           Store::FootprintRecord{.task = "t", .bucket = "b", .peak_mb = id}));
  }
  ASSERT_TRUE(this->save(this->job(56, JobState::succeeded, 56), std::nullopt,
                         Store::FootprintRecord{.task = "t", .bucket = "c", .peak_mb = 7}));
  auto f = this->store_->load_footprints();
  ASSERT_TRUE(f);
  ASSERT_EQ(f->size(), 51U);
  std::int64_t lowest_b = 1'000;
  for (const Store::FootprintRecord& r : *f) {
    if (r.bucket == "b") lowest_b = std::min(lowest_b, r.peak_mb);
  }
  EXPECT_EQ(lowest_b, 6) << "the oldest five of bucket b went";
}

// The in-memory store's faults behave as the SQLite store's (tests/e2e/test_store_faults.py
// shows those on a real full disk and a held lock).
TEST(MemoryStoreFaults, OnceSavesFailAndTheOthersWaitInOrderUntilCleared) {
  asio::io_context ioc;
  MemoryStore store(ioc.get_executor());
  Job j;
  j.id = 1;
  store.fail(StoreFault::full, "database or disk is full");
  std::vector<std::string> seen;
  store.save(
      j, [&](core::Result<void> r) { seen.push_back(r ? "once ok" : "once failed"); }, std::nullopt,
      std::nullopt, Store::SaveMode::once);
  j.state = JobState::running;
  store.save(j, [&](core::Result<void> r) { seen.push_back(r ? "running" : "lost"); });
  j.state = JobState::succeeded;
  store.save(j, [&](core::Result<void> r) { seen.push_back(r ? "succeeded" : "lost"); });
  ioc.poll();
  EXPECT_EQ(seen, (std::vector<std::string>{"once failed"}));
  EXPECT_EQ(store.health().fault, StoreFault::full);
  EXPECT_TRUE(store.rows().empty());
  store.clear();
  ioc.restart();
  ioc.poll();
  EXPECT_EQ(seen, (std::vector<std::string>{"once failed", "running", "succeeded"}));
  EXPECT_EQ(store.rows().at(1).state, JobState::succeeded);
  EXPECT_EQ(store.reopen(ioc.get_executor())->rows().at(1).state, JobState::succeeded);
}

}  // namespace
}  // namespace vramq::store
