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
#include "store/sqlite.hpp"
#include "store/store_fault.hpp"
#include "util/worker.hpp"

namespace vramq::store {

class JobStore {
 public:
  using Done = std::function<void(core::Result<void>)>;

  // An Idempotency-Key recorded with the job it created, in the same transaction.
  struct IdempotencyRecord {
    std::string key;
    std::string body_hash;
    core::JobId job = 0;
    std::int64_t created_at_ms = 0;
  };

  // Opens or creates the database and applies pending schema migrations. Blocking.
  // `busy_ms`: how long a write waits for a lock held by another process before it fails busy.
  static core::Result<std::unique_ptr<JobStore>> open(const std::string& path,
                                                      boost::asio::any_io_executor loop,
                                                      int busy_ms = 5000);
  ~JobStore();  // commits everything already saved, then stops the threads
  JobStore(const JobStore&) = delete;
  JobStore& operator=(const JobStore&) = delete;

  // Start-up only (blocking): queued and running jobs by id; the largest id ever used.
  core::Result<std::vector<core::Job>> load_unfinished();
  core::Result<core::JobId> max_id();
  // The largest warm-worker id a job names or named (start-up only; purged and pruned jobs'
  // ids are remembered): new workers are numbered above it, so that a job's `worker` never
  // names two processes.
  core::Result<std::int64_t> max_worker_id();

  // A finished run's measured peak, for learned footprints (the newest 50 per bucket are kept).
  struct FootprintRecord {
    std::string task;
    std::string bucket;
    std::int64_t peak_mb = 0;
    std::int64_t reserved_mb = 0;  // the reservation the run had (0: not recorded, before v5)
  };

  // until_durable: retried through store faults until it is durable (the state of a job already
  // accepted must never be lost); once: one try, its error to `done` (a submission, whose client
  // is told).
  enum class SaveMode { until_durable, once };

  // Inserts or replaces the job's row, and records `key` and `footprint`, if given, in the same
  // transaction. `done` (optional) runs on the loop once durable (or once it failed, `once`).
  void save(core::Job job, Done done = {}, std::optional<IdempotencyRecord> key = std::nullopt,
            std::optional<FootprintRecord> footprint = std::nullopt,
            SaveMode mode = SaveMode::until_durable);

  // Whether the store can write, as of its last write or probe. Any thread.
  struct Health {
    StoreFault fault = StoreFault::none;
    std::string error;          // SQLite's message
    std::int64_t since_ms = 0;  // Unix ms of the first failure in a row
  };
  Health health() const;
  // How long each transaction of saves took, BEGIN to COMMIT (fsync included). Any thread.
  core::Histogram commit_seconds() const;

  // Start-up only (blocking): every kept footprint sample, oldest first.
  core::Result<std::vector<FootprintRecord>> load_footprints();

  // The record for `key` if it was made at or after `not_before_ms`; completes with
  // Result<std::optional<IdempotencyRecord>>.
  template <class Token>
  auto async_find_key(std::string key, std::int64_t not_before_ms, Token&& token) {
    return reader_worker_.async_run(
        [this, key = std::move(key), not_before_ms] {
          return find_key_on_reader(key, not_before_ms);
        },
        std::forward<Token>(token));
  }
  // Drops keys made before `before_ms` (they are kept 24 h).
  void expire_keys(std::int64_t before_ms);
  // Removes an ended job's row and the Idempotency-Keys that name it; its id is never handed
  // out again (max_id() remembers it). `done` runs on the loop once durable.
  void purge(core::JobId id, Done done);

  // Retention: removes ended jobs' rows and keys, oldest first, at most `limit` in one
  // transaction: those that ended before `ended_before_ms` (0: none by age), and the oldest
  // beyond the newest `keep` ended jobs (0: no count cap). Learned footprints stay. The ids
  // removed go to `done` (on the loop), so that their directories can follow; their ids are
  // never handed out again.
  struct Prune {
    std::int64_t ended_before_ms = 0;
    std::int64_t keep = 0;
    int limit = 500;
  };
  using Pruned = std::function<void(core::Result<std::vector<core::JobId>>)>;
  void prune_ended(Prune what, Pruned done);

  // Reads one job on the reader thread; completes on the caller's executor with
  // Result<std::optional<Job>>.
  template <class Token>
  auto async_get(core::JobId id, Token&& token) {
    return reader_worker_.async_run([this, id] { return get_on_reader(id); },
                                    std::forward<Token>(token));
  }

  // Ended jobs in the given states with id < before (0: no bound), newest first, at most `limit`;
  // `output` is left out (lists stay small). Completes with Result<std::vector<Job>>.
  struct ListQuery {
    std::vector<core::JobState> states;  // empty: none
    core::JobId before = 0;
    int limit = 50;
    core::JobId at_least = 0;                                  // only ids >= this
    std::string name;                                          // "": any
    std::string owner;                                         // "": any
    std::optional<std::pair<std::string, std::string>> label;  // key, value
  };
  template <class Token>
  auto async_list(ListQuery q, Token&& token) {
    return reader_worker_.async_run([this, q = std::move(q)] { return list_on_reader(q); },
                                    std::forward<Token>(token));
  }

  // Counts rows (tests and start-up logs). Blocking, on the reader connection: not on the loop.
  core::Result<std::int64_t> count_blocking();
  // A job's state (nullopt: no such job). Start-up only (blocking).
  core::Result<std::optional<core::JobState>> state_blocking(core::JobId id);

  static constexpr int kSchemaVersion = 12;

 private:
  struct Op {
    core::Job job;
    Done done;
    std::optional<IdempotencyRecord> key;
    std::optional<FootprintRecord> footprint;
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
