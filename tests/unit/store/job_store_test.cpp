#include "store/job_store.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <filesystem>

#include "temp_dir.hpp"

namespace vramq::store {
namespace {

namespace fs = std::filesystem;

class JobStoreTest : public ::testing::Test {
 protected:
  std::string db() const { return (tmp_.path() / "vramq.db").string(); }

  testing::TempDir tmp_;
  boost::asio::io_context ioc_;
  // Keeps run_one() blocking until a completion arrives instead of returning on an idle loop.
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_ =
      boost::asio::make_work_guard(ioc_);
};

// A read's result to `f` on the loop, as the callbacks of these loop-driven tests want it.
template <class T, class F>
void then(boost::asio::io_context& ioc, boost::asio::awaitable<T> read, F f) {
  boost::asio::co_spawn(ioc, std::move(read),
                        [f](const std::exception_ptr&, T r) mutable { f(std::move(r)); });
}

core::Job make_job(core::JobId id, core::JobState state = core::JobState::queued) {
  core::Job j;
  j.id = id;
  j.state = state;
  j.spec.task = "fake-model";
  j.spec.params_json = R"({"seconds":1})";
  j.spec.argv = {"/bin/echo", "a b", "quote\"d"};
  j.spec.env = {{"HF_HOME", "/cache"}};
  j.spec.vram_mb = 4096;
  j.spec.priority = 3;
  j.submitted_at_ms = 1000 + id;
  j.queued_at_ms = 1000 + id;
  return j;
}

TEST_F(JobStoreTest, SaveCompletesOnTheLoopOnceDurableAndRoundTrips) {
  auto store = JobStore::open(db(), ioc_.get_executor());
  ASSERT_TRUE(store) << store.error().message;
  int done = 0;
  for (core::JobId id = 1; id <= 100; ++id) {
    (*store)->save(make_job(id), [&](core::Result<void> r) {
      EXPECT_TRUE(r);
      ++done;
    });
  }
  while (done < 100)
    ioc_.run_one();
  EXPECT_EQ(*(*store)->count_blocking(), 100);
  std::optional<core::Job> got;
  then(ioc_, (*store)->get(7), [&](core::Result<std::optional<core::Job>> r) { got = **r; });
  while (!got)
    ioc_.run_one();
  EXPECT_EQ(got->spec.argv, make_job(7).spec.argv);
  EXPECT_EQ(got->spec.env, make_job(7).spec.env);
  EXPECT_EQ(got->spec.params_json, make_job(7).spec.params_json);
  EXPECT_EQ(got->spec.priority, 3);
  EXPECT_EQ(got->spec.vram_mb, 4096);
  EXPECT_FALSE(got->gpu);
  EXPECT_FALSE(got->exit_code);
}

// Usage rows add up per day, owner and task, survive a reopen, and group as asked.
TEST_F(JobStoreTest, UsageAddsUpAndGroups) {
  {
    auto store = JobStore::open(db(), ioc_.get_executor());
    ASSERT_TRUE(store) << store.error().message;
    auto run = [](std::int64_t day, std::string owner, std::string task, std::int64_t mib_s) {
      return UsageRow{.day = day,
                      .owner = std::move(owner),
                      .task = std::move(task),
                      .runs = 1,
                      .reserved_mib_s = mib_s,
                      .measured_mib_s = mib_s / 2,
                      .gpu_s = 10,
                      .preempted = 0};
    };
    (*store)->add_usage(run(20000, "alice", "a", 100));
    (*store)->add_usage(run(20000, "alice", "a", 50));
    (*store)->add_usage(run(20000, "alice", "b", 7));
    (*store)->add_usage(run(20001, "bob", "a", 1000));
    // A save after them: once it is durable, so are they (one writer, in order).
    bool saved = false;
    (*store)->save(make_job(1), [&](core::Result<void> r) { saved = r.has_value(); });
    while (!saved)
      ioc_.run_one();
  }
  auto store = JobStore::open(db(), ioc_.get_executor());
  ASSERT_TRUE(store);
  auto rows = (*store)->load_usage(0);
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 3U);
  EXPECT_EQ((*rows)[0].runs, 2);
  EXPECT_EQ((*rows)[0].reserved_mib_s, 150);
  EXPECT_EQ((*rows)[0].measured_mib_s, 75);
  std::optional<std::vector<UsageRow>> by_owner;
  then(ioc_, (*store)->usage({.from_day = 0, .to_day = 30000}),
       [&](core::Result<std::vector<UsageRow>> r) { by_owner = *r; });
  while (!by_owner)
    ioc_.run_one();
  ASSERT_EQ(by_owner->size(), 2U);
  EXPECT_EQ((*by_owner)[0].owner, "alice");
  EXPECT_EQ((*by_owner)[0].reserved_mib_s, 157);
  EXPECT_EQ((*by_owner)[0].task, "");
  EXPECT_EQ((*by_owner)[1].owner, "bob");
  std::optional<std::vector<UsageRow>> one_day;
  then(ioc_,
       (*store)->usage({.from_day = 20001, .to_day = 20001, .by_owner = false, .by_task = true}),
       [&](core::Result<std::vector<UsageRow>> r) { one_day = *r; });
  while (!one_day)
    ioc_.run_one();
  ASSERT_EQ(one_day->size(), 1U);
  EXPECT_EQ((*one_day)[0].task, "a");
  EXPECT_EQ((*one_day)[0].reserved_mib_s, 1000);
}

TEST_F(JobStoreTest, ReopenRecoversUnfinishedJobsInIdOrderAndTheLargestId) {
  {
    auto store = JobStore::open(db(), ioc_.get_executor());
    ASSERT_TRUE(store);
    (*store)->save(make_job(3));
    (*store)->save(make_job(1, core::JobState::running));
    core::Job done = make_job(2, core::JobState::succeeded);
    done.exit_code = 0;
    done.output = "result";
    (*store)->save(done);
    (*store)->save(make_job(9, core::JobState::failed));
  }  // the destructor commits everything already saved
  auto store = JobStore::open(db(), ioc_.get_executor());
  ASSERT_TRUE(store);
  auto jobs = (*store)->load_unfinished();
  ASSERT_TRUE(jobs);
  ASSERT_EQ(jobs->size(), 2u);
  EXPECT_EQ((*jobs)[0].id, 1);
  EXPECT_EQ((*jobs)[0].state, core::JobState::running);
  EXPECT_EQ((*jobs)[1].id, 3);
  EXPECT_EQ(*(*store)->max_id(), 9);
}

TEST_F(JobStoreTest, SaveReplacesTheRow) {
  auto store = JobStore::open(db(), ioc_.get_executor());
  core::Job j = make_job(5);
  (*store)->save(j);
  j.state = core::JobState::succeeded;
  j.peak_vram_mb = 1234;
  bool done = false;
  (*store)->save(j, [&](core::Result<void>) { done = true; });
  while (!done)
    ioc_.run_one();
  EXPECT_EQ(*(*store)->count_blocking(), 1);
  EXPECT_TRUE((*store)->load_unfinished()->empty());
}

TEST_F(JobStoreTest, EveryFieldRoundTrips) {
  auto store = JobStore::open(db(), ioc_.get_executor());
  ASSERT_TRUE(store);
  core::Job j = make_job(11, core::JobState::failed);
  j.reason = core::EndReason::gpu_oom;
  j.gpu = 1;
  j.gpus = {1, 3};
  j.spec.gpus = 2;
  j.attempt = 2;
  j.started_at_ms = 5000;
  j.finished_at_ms = 6000;
  j.exit_code = 1;
  j.error = "CUDA out of memory";
  j.peak_vram_mb = 3000;
  j.output = "partial";
  j.output_truncated = true;
  j.spec.retry_delay_s = 30;
  j.spec.after_ok = {3, 4};
  j.spec.after_any = {5};
  j.not_before_ms = 1'800'000'000'000;
  j.spec.name = "nightly \"mesh\"";
  j.spec.labels = {{"project", "tripo"}, {"team.size", "3"}};
  j.spec.owner = "alice";
  j.pid = 4242;
  j.pid_start_ticks = 99;
  j.spec.cwd = "/srv";
  j.spec.timeout_s = 60;
  j.spec.max_retries = 1;
  j.warnings = {"used 2600 MiB, above its reservation", "second \"quoted\" warning"};
  bool saved = false;
  (*store)->save(j, [&](core::Result<void> r) { saved = r.has_value(); });
  while (!saved)
    ioc_.run_one();
  std::optional<core::Job> got;
  then(ioc_, (*store)->get(11), [&](core::Result<std::optional<core::Job>> r) { got = **r; });
  while (!got)
    ioc_.run_one();
  core::Job want = j;
  want.spec.env = core::without_values(j.spec.env);  // ended: the names only
  EXPECT_EQ(*got, want);
}

TEST(StoreFault, SqliteCodesByWhatAnOperatorDoesAboutThem) {
  EXPECT_EQ(classify_sqlite(SQLITE_FULL), StoreFault::full);
  EXPECT_EQ(classify_sqlite(SQLITE_BUSY), StoreFault::busy);
  EXPECT_EQ(classify_sqlite(SQLITE_BUSY_SNAPSHOT), StoreFault::busy);
  EXPECT_EQ(classify_sqlite(SQLITE_LOCKED), StoreFault::busy);
  EXPECT_EQ(classify_sqlite(SQLITE_IOERR_FSYNC), StoreFault::io);
  EXPECT_EQ(classify_sqlite(SQLITE_IOERR_WRITE), StoreFault::io);
  EXPECT_EQ(classify_sqlite(SQLITE_READONLY), StoreFault::io);
  EXPECT_EQ(classify_sqlite(SQLITE_CONSTRAINT), StoreFault::none) << "a bad row, not the store";
  EXPECT_EQ(classify_sqlite(SQLITE_OK), StoreFault::none);
}

// Another process holds the database's write lock: a submission (once) is refused with the
// fault named, a state change (until durable) waits and lands once the lock is gone, reads go
// on, and the fault clears by itself.
TEST_F(JobStoreTest, ALockHeldElsewhereFailsSubmissionsAndDelaysStateChanges) {
  auto store = JobStore::open(db(), ioc_.get_executor(), /*busy_ms=*/200);
  ASSERT_TRUE(store);
  bool first = false;
  (*store)->save(make_job(1), [&](core::Result<void> r) { first = r.has_value(); });
  while (!first)
    ioc_.run_one();
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(db().c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  std::optional<core::Result<void>> submitted;
  (*store)->save(
      make_job(2), [&](core::Result<void> r) { submitted = r; }, std::nullopt, std::nullopt,
      JobStore::SaveMode::once);
  while (!submitted)
    ioc_.run_one();
  EXPECT_FALSE(*submitted);
  EXPECT_EQ((*store)->health().fault, StoreFault::busy);
  EXPECT_NE((*store)->health().error.find("locked"), std::string::npos) << (*store)->health().error;
  std::optional<core::Result<void>> changed;
  (*store)->save(make_job(1, core::JobState::succeeded),
                 [&](core::Result<void> r) { changed = r; });
  // Reads are served meanwhile.
  std::optional<std::optional<core::Job>> read;
  then(ioc_, (*store)->get(1), [&](core::Result<std::optional<core::Job>> r) { read = *r; });
  while (!read)
    ioc_.run_one();
  EXPECT_TRUE(*read);
  EXPECT_FALSE(changed) << "it cannot be durable while the lock is held";
  sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(other);
  while (!changed)
    ioc_.run_one();
  EXPECT_TRUE(*changed);
  EXPECT_EQ((*store)->health().fault, StoreFault::none);
  std::optional<std::optional<core::Job>> after;
  then(ioc_, (*store)->get(1), [&](core::Result<std::optional<core::Job>> r) { after = *r; });
  while (!after)
    ioc_.run_one();
  EXPECT_EQ((*after)->state, core::JobState::succeeded);
  std::optional<std::optional<core::Job>> refused;
  then(ioc_, (*store)->get(2), [&](core::Result<std::optional<core::Job>> r) { refused = *r; });
  while (!refused)
    ioc_.run_one();
  EXPECT_FALSE(*refused) << "the refused submission was not stored later behind its client";
}

// Retention removes the oldest ended jobs by age and by count, never a live one, with their
// keys; footprints stay and removed ids are never handed out again.
TEST_F(JobStoreTest, PruneEndedByAgeAndCount) {
  auto store = JobStore::open(db(), ioc_.get_executor());
  ASSERT_TRUE(store);
  auto save = [&](core::Job j, std::optional<JobStore::IdempotencyRecord> key = std::nullopt,
                  std::optional<JobStore::FootprintRecord> fp = std::nullopt) {
    bool saved = false;
    (*store)->save(
        j, [&](core::Result<void> r) { saved = r.has_value(); }, key, fp);
    while (!saved)
      ioc_.run_one();
  };
  for (core::JobId id = 1; id <= 10; ++id) {
    core::Job j = make_job(id, id == 5 ? core::JobState::running : core::JobState::succeeded);
    j.finished_at_ms = id == 5 ? 0 : 1000 * id;   // job 1 ended first
    j.worker = id == 9 ? 42 : (id == 5 ? 7 : 0);  // warm workers ran jobs 9 and 5
    save(j,
         JobStore::IdempotencyRecord{
             .key = fmt::format("k{}", id), .body_hash = "h", .job = id, .created_at_ms = 1},
         JobStore::FootprintRecord{.task = "t", .bucket = "b", .peak_mb = id});
  }
  auto prune = [&](JobStore::Prune p) {
    std::optional<core::Result<std::vector<core::JobId>>> got;
    (*store)->prune_ended(p, [&](core::Result<std::vector<core::JobId>> r) { got = r; });
    while (!got)
      ioc_.run_one();
    EXPECT_TRUE(*got) << got->error().message;
    return **got;
  };
  // By age: those that ended before 3500 ms (jobs 1, 2, 3), two per batch.
  EXPECT_EQ(prune({.ended_before_ms = 3500, .keep = 0, .limit = 2}),
            (std::vector<core::JobId>{1, 2}));
  EXPECT_EQ(prune({.ended_before_ms = 3500, .keep = 0, .limit = 2}), (std::vector<core::JobId>{3}));
  EXPECT_TRUE(prune({.ended_before_ms = 3500, .keep = 0, .limit = 2}).empty());
  // By count: 6 ended jobs are left (4, 6..10); keep the newest 4; the running job 5 is no
  // ended job and stays whatever its age.
  EXPECT_EQ(prune({.ended_before_ms = 0, .keep = 4, .limit = 100}),
            (std::vector<core::JobId>{4, 6}));
  EXPECT_TRUE(prune({.ended_before_ms = 0, .keep = 4, .limit = 100}).empty());
  EXPECT_EQ(*(*store)->count_blocking(), 5);  // 5, 7, 8, 9, 10
  EXPECT_EQ(*(*store)->max_id(), 10);
  std::optional<core::Result<std::optional<JobStore::IdempotencyRecord>>> key;
  then(ioc_, (*store)->find_key("k1", 0), [&](auto r) { key = r; });
  while (!key)
    ioc_.run_one();
  EXPECT_FALSE(**key) << "a removed job's key goes with it";
  EXPECT_EQ((*store)->load_footprints()->size(), 10u) << "footprints are kept";
  EXPECT_EQ(*(*store)->max_worker_id(), 42);
  // The newest ids removed are never handed out again, even once every row is gone; nor is the
  // id of a warm worker that only removed jobs named.
  EXPECT_EQ(prune({.ended_before_ms = 1'000'000, .keep = 0, .limit = 100}),
            (std::vector<core::JobId>{7, 8, 9, 10}));
  EXPECT_EQ(*(*store)->max_id(), 10);
  EXPECT_EQ(*(*store)->max_worker_id(), 42) << "job 9's worker, though its row is gone";
}

TEST_F(JobStoreTest, EnvValuesAreKeptOnlyUntilTheJobEnds) {
  auto store = JobStore::open(db(), ioc_.get_executor());
  ASSERT_TRUE(store);
  core::Job j = make_job(12, core::JobState::queued);
  j.spec.env = {{"HF_TOKEN", "hf_secret_value"}, {"MODE", "fast"}};
  auto save_and_read = [&](const core::Job& job) {
    bool saved = false;
    (*store)->save(job, [&](core::Result<void> r) { saved = r.has_value(); });
    while (!saved)
      ioc_.run_one();
    std::optional<core::Job> got;
    then(ioc_, (*store)->get(job.id), [&](core::Result<std::optional<core::Job>> r) { got = **r; });
    while (!got)
      ioc_.run_one();
    return *got;
  };
  EXPECT_EQ(save_and_read(j).spec.env, j.spec.env) << "a queued job needs them to run";
  j.state = core::JobState::running;
  EXPECT_EQ(save_and_read(j).spec.env, j.spec.env) << "a retry needs them again";
  j.state = core::JobState::succeeded;
  std::vector<std::pair<std::string, std::string>> names = {{"HF_TOKEN", ""}, {"MODE", ""}};
  EXPECT_EQ(save_and_read(j).spec.env, names);
}

TEST_F(JobStoreTest, UpgradesASchemaVersion2Database) {
  {
    auto store = JobStore::open(db(), ioc_.get_executor());
    ASSERT_TRUE(store);
  }
  {  // what vramq before schema 3 left: no warnings column, and a row in it
    auto raw = Db::open(db());
    ASSERT_TRUE(raw->exec("DROP TABLE footprints"));
    ASSERT_TRUE(raw->exec("DROP TABLE counters"));
    ASSERT_TRUE(raw->exec("DROP INDEX jobs_ended"));
    ASSERT_TRUE(raw->exec("DROP INDEX idempotency_keys_job"));
    ASSERT_TRUE(raw->exec("ALTER TABLE jobs DROP COLUMN warnings"));
    for (const char* column :
         {"output_truncated", "retry_delay_s", "after_ok", "after_any", "not_before", "name",
          "labels", "owner", "gpu_count", "gpus", "worker", "restart_requeued", "preemptible",
          "borrowed", "preemptions"}) {
      ASSERT_TRUE(raw->exec(fmt::format("ALTER TABLE jobs DROP COLUMN {}", column).c_str()));
    }
    ASSERT_TRUE(raw->exec("DROP TABLE usage"));
    ASSERT_TRUE(raw->exec("PRAGMA user_version = 2"));
    ASSERT_TRUE(
        raw->exec("INSERT INTO jobs (id, state, argv, vram_mb, submitted_at, queued_at) "
                  "VALUES (1, 'queued', '[\"/bin/true\"]', 100, 1, 1)"));
  }
  auto store = JobStore::open(db(), ioc_.get_executor());
  ASSERT_TRUE(store) << store.error().message;
  auto jobs = (*store)->load_unfinished();
  ASSERT_TRUE(jobs);
  ASSERT_EQ(jobs->size(), 1U);
  EXPECT_EQ((*jobs)[0].spec.argv, std::vector<std::string>{"/bin/true"});
  EXPECT_TRUE((*jobs)[0].warnings.empty());
  auto footprints = (*store)->load_footprints();
  ASSERT_TRUE(footprints) << footprints.error().message;
  EXPECT_TRUE(footprints->empty());
}

TEST_F(JobStoreTest, FootprintsAreSavedWithTheJobAndOnlyTheNewest50PerBucketKept) {
  {
    auto store = JobStore::open(db(), ioc_.get_executor());
    ASSERT_TRUE(store);
    for (core::JobId id = 1; id <= 60; ++id) {
      (*store)->save(make_job(id, core::JobState::succeeded), {}, std::nullopt,
                     JobStore::FootprintRecord{.task = "t", .bucket = "size=1", .peak_mb = id});
    }
    (*store)->save(
        make_job(61, core::JobState::succeeded), {}, std::nullopt,
        JobStore::FootprintRecord{.task = "t", .bucket = "size=2", .peak_mb = 7, .reserved_mb = 8});
  }
  auto store = JobStore::open(db(), ioc_.get_executor());
  auto f = (*store)->load_footprints();
  ASSERT_TRUE(f);
  ASSERT_EQ(f->size(), 51U);
  EXPECT_EQ(f->front().peak_mb, 11);  // 1..10 pruned
  EXPECT_EQ(f->back().bucket, "size=2");
  EXPECT_EQ(f->back().reserved_mb, 8);  // the reservation the run had, kept with its peak
  EXPECT_EQ(f->front().reserved_mb, 0);
}

TEST_F(JobStoreTest, RefusesADatabaseFromANewerVramq) {
  {
    auto store = JobStore::open(db(), ioc_.get_executor());
    ASSERT_TRUE(store);
  }
  auto raw = Db::open(db());
  ASSERT_TRUE(raw->exec("PRAGMA user_version = 99"));
  auto store = JobStore::open(db(), ioc_.get_executor());
  ASSERT_FALSE(store);
  EXPECT_NE(store.error().message.find("newer"), std::string::npos);
}

TEST_F(JobStoreTest, UnopenablePathIsAnError) {
  auto store =
      JobStore::open((tmp_.path() / "missing" / "dir" / "x.db").string(), ioc_.get_executor());
  ASSERT_FALSE(store);
  EXPECT_NE(store.error().message.find("cannot open"), std::string::npos);
}

}  // namespace
}  // namespace vramq::store

namespace vramq::store {
namespace {

class IdempotencyKeyTest : public ::testing::Test {
 protected:
  testing::TempDir tmp_;
  boost::asio::io_context ioc_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_ =
      boost::asio::make_work_guard(ioc_);

  std::optional<JobStore::IdempotencyRecord> find(JobStore& store, const std::string& key,
                                                  std::int64_t not_before) {
    std::optional<core::Result<std::optional<JobStore::IdempotencyRecord>>> got;
    then(ioc_, store.find_key(key, not_before), [&](auto r) { got = std::move(r); });
    while (!got)
      ioc_.run_one();
    EXPECT_TRUE(*got);
    return **got;
  }
};

TEST_F(IdempotencyKeyTest, RecordedWithTheJobFoundUntilExpired) {
  auto store = JobStore::open((tmp_.path() / "db").string(), ioc_.get_executor());
  ASSERT_TRUE(store);
  core::Job job;
  job.id = 1;
  job.spec.argv = {"/bin/true"};
  bool done = false;
  (*store)->save(
      job, [&](core::Result<void> r) { done = r.has_value(); },
      JobStore::IdempotencyRecord{.key = "k", .body_hash = "h", .job = 1, .created_at_ms = 1000});
  while (!done)
    ioc_.run_one();
  auto rec = find(**store, "k", 0);
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->job, 1);
  EXPECT_EQ(rec->body_hash, "h");
  EXPECT_FALSE(find(**store, "k", 1001));  // older than the window
  EXPECT_FALSE(find(**store, "other", 0));

  // A second job with the same key fails to save, and its row is not written either.
  core::Job dup = job;
  dup.id = 2;
  std::optional<core::Result<void>> dup_saved;
  (*store)->save(
      dup, [&](core::Result<void> r) { dup_saved = r; },
      JobStore::IdempotencyRecord{.key = "k", .body_hash = "h", .job = 2, .created_at_ms = 1000});
  while (!dup_saved)
    ioc_.run_one();
  EXPECT_FALSE(*dup_saved);
  EXPECT_EQ(*(*store)->max_id(), 1);

  (*store)->expire_keys(2000);
  bool marker = false;
  (*store)->save(job, [&](core::Result<void>) { marker = true; });
  while (!marker)
    ioc_.run_one();
  EXPECT_FALSE(find(**store, "k", 0));
}

}  // namespace
}  // namespace vramq::store
