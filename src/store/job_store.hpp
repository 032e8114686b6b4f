#pragma once
// The durable job store: one SQLite file in WAL mode. All writes go through one writer thread
// that commits whatever is waiting as one transaction (group commit: many submissions per
// fsync); a save's completion runs on the event loop only once its transaction is durable.
// Reads for the API run on a separate reader connection and thread.
// When the store cannot write (disk full, its lock held by another process, a failed write or
// fsync) it says so (health()), fails at once the saves whose caller answers a client
// (SaveMode::once: a submission is refused, never acknowledged unstored), and keeps trying the
// state changes of jobs already accepted, in order, until they are durable; with nothing to
// write it probes with a real durable write, so that the fault clears by itself.
// Thread safety: save() and async_get() are called from the loop; the start-up functions
// (load_unfinished, max_id) before the loop runs.

#include <boost/asio/any_io_executor.hpp>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "core/error.hpp"
#include "core/histogram.hpp"
#include "core/job.hpp"
#include "store/schema.hpp"
#include "store/sqlite.hpp"
#include "store/store.hpp"
#include "store/store_fault.hpp"
#include "util/worker.hpp"

namespace vramq::store {

class JobStore final : public Store {
 public:
  // Opens or creates the database and applies pending schema migrations. Blocking.
  // `busy_ms`: how long a write waits for a lock held by another process before it fails busy.
  static core::Result<std::unique_ptr<JobStore>> open(const std::string& path,
                                                      boost::asio::any_io_executor loop,
                                                      int busy_ms = 5000);
  ~JobStore() override;  // commits everything already saved, then stops the threads
  JobStore(const JobStore&) = delete;
  JobStore& operator=(const JobStore&) = delete;

  core::Result<std::vector<core::Job>> load_unfinished() override;
  core::Result<core::JobId> max_id() override;
  core::Result<std::int64_t> max_worker_id() override;
  core::Result<std::vector<FootprintRecord>> load_footprints() override;
  core::Result<std::optional<core::JobState>> state_blocking(core::JobId id) override;

  using Store::save;
  void save(core::Job job, Done done, std::optional<IdempotencyRecord> key,
            std::optional<FootprintRecord> footprint, SaveMode mode) override;
  void purge(core::JobId id, Done done) override;
  // Learned footprints stay; the pruned ids are never handed out again.
  void prune_ended(Prune what, Pruned done) override;
  void expire_keys(std::int64_t before_ms) override;

  Health health() const override;
  core::Histogram commit_seconds() const override;

  // On the reader thread (not coroutines: a capturing lambda made inside a co_await
  // expression has its captures destroyed twice by g++ 12).
  boost::asio::awaitable<core::Result<std::optional<core::Job>>> get(core::JobId id) override;
  boost::asio::awaitable<core::Result<std::vector<core::Job>>> list(ListQuery q) override;
  boost::asio::awaitable<core::Result<std::vector<UsageRow>>> usage(UsageQuery q) override;
  void add_usage(UsageRow run) override;
  core::Result<std::vector<UsageRow>> load_usage(std::int64_t from_day) override;
  boost::asio::awaitable<core::Result<std::optional<IdempotencyRecord>>> find_key(
      std::string key, std::int64_t not_before_ms) override;

  // Counts rows (tests and start-up logs). Blocking, on the reader connection: not on the loop.
  core::Result<std::int64_t> count_blocking();

  static constexpr int kSchemaVersion = store::kSchemaVersion;

 private:
  struct Op {
    core::Job job;
    Done done;
    std::optional<IdempotencyRecord> key;
    std::optional<FootprintRecord> footprint;
    std::optional<UsageRow> usage;      // set: a run's use instead of a job
    std::int64_t expire_before_ms = 0;  // > 0: an expiry sweep instead of a job
    core::JobId purge = 0;              // > 0: remove this job's row and keys instead
    SaveMode mode = SaveMode::until_durable;
    std::optional<Prune> prune;  // set: a retention step instead (its ids to `pruned`)
    Pruned pruned;
    std::vector<core::JobId> pruned_ids;  // filled by the write
  };

  JobStore(Db writer, Db reader, boost::asio::any_io_executor loop);
  void writer_main();
  core::Result<void> write_batch(std::vector<Op>& batch);
  core::Result<void> probe();  // a durable write of nothing that matters
  core::Result<void> prune_in_transaction(Op& op);
  // After a failed write: whether it was the store's fault (then health says which).
  StoreFault note_failure(const core::Error& error);
  core::Result<std::optional<core::Job>> get_on_reader(core::JobId id);
  core::Result<std::vector<core::Job>> list_on_reader(const ListQuery& q);
  core::Result<std::optional<IdempotencyRecord>> find_key_on_reader(const std::string& key,
                                                                    std::int64_t not_before_ms);

  Db writer_db_;
  Db reader_db_;
  Stmt upsert_;
  Stmt insert_key_;
  Stmt insert_footprint_;
  Stmt prune_footprints_;
  Stmt add_usage_;
  boost::asio::any_io_executor loop_;

  int last_code_ = 0;  // writer thread: SQLite's code for the last failed statement

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Op> pending_;  // guarded by mutex_
  bool stopping_ = false;   // guarded by mutex_
  Health health_;           // guarded by mutex_
  core::Histogram commit_seconds_{
      {0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5}};  // mutex_
  std::thread writer_;
  util::Worker reader_worker_;
};

}  // namespace vramq::store
