#pragma once
// What the service needs of a job store, as an interface: the SQLite store (store/job_store)
// in production, an in-memory one (store/memory_store) where a test wants no files and no
// threads. The contract both keep:
//   - save() writes a job's whole row (with an Idempotency-Key and a footprint sample, in the
//     same transaction); `done` runs on the event loop, later (never inside save()), once the
//     row is durable, or once it failed when the mode is `once`. Saves are applied in order.
//   - reads (get, list, find_key) see every save whose `done` has run.
//   - a purged or pruned job's id is never handed out again (max_id remembers it).
// Start-up functions (load_*, max_*, state_blocking) run before the loop does, and block.
// Thread safety: everything else is called on the loop.

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/error.hpp"
#include "core/histogram.hpp"
#include "core/job.hpp"
#include "store/store_fault.hpp"
#include "store/usage.hpp"

namespace vramq::store {

class Store {
 public:
  using Done = std::function<void(core::Result<void>)>;

  // An Idempotency-Key recorded with the job it created, in the same transaction.
  struct IdempotencyRecord {
    std::string key;
    std::string body_hash;
    core::JobId job = 0;
    std::int64_t created_at_ms = 0;
  };

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

  // Whether the store can write, as of its last write or probe. Any thread.
  struct Health {
    StoreFault fault = StoreFault::none;
    std::string error;          // the database's message
    std::int64_t since_ms = 0;  // Unix ms of the first failure in a row
  };

  // Retention: ended jobs removed, oldest first, at most `limit` in one transaction: those that
  // ended before `ended_before_ms` (0: none by age), and the oldest beyond the newest `keep`
  // ended jobs (0: no count cap). The ids removed go to the callback.
  struct Prune {
    std::int64_t ended_before_ms = 0;
    std::int64_t keep = 0;
    int limit = 500;
  };
  using Pruned = std::function<void(core::Result<std::vector<core::JobId>>)>;

  // Ended jobs in the given states with id < before (0: no bound), newest first, at most `limit`;
  // `output` is left out (lists stay small).
  struct ListQuery {
    std::vector<core::JobState> states;  // empty: none
    core::JobId before = 0;
    int limit = 50;
    core::JobId at_least = 0;                                  // only ids >= this
    std::string name;                                          // "": any
    std::string owner;                                         // "": any
    std::optional<std::pair<std::string, std::string>> label;  // key, value
  };

  virtual ~Store() = default;

  // Start-up only (blocking): queued and running jobs by id; the largest job id ever used; the
  // largest warm-worker id a job names or named (new workers are numbered above it); every
  // kept footprint sample, oldest first; one job's state (nullopt: no such job).
  virtual core::Result<std::vector<core::Job>> load_unfinished() = 0;
  virtual core::Result<core::JobId> max_id() = 0;
  virtual core::Result<std::int64_t> max_worker_id() = 0;
  virtual core::Result<std::vector<FootprintRecord>> load_footprints() = 0;
  virtual core::Result<std::optional<core::JobState>> state_blocking(core::JobId id) = 0;

  virtual void save(core::Job job, Done done, std::optional<IdempotencyRecord> key,
                    std::optional<FootprintRecord> footprint, SaveMode mode) = 0;
  void save(core::Job job, Done done = {}, std::optional<IdempotencyRecord> key = std::nullopt,
            std::optional<FootprintRecord> footprint = std::nullopt) {
    save(std::move(job), std::move(done), std::move(key), std::move(footprint),
         SaveMode::until_durable);
  }
  // A run's use added to its day's, owner's and task's row (store/usage_table.hpp), retried until
  // durable; the rows outlive retention.
  virtual void add_usage(UsageRow run) = 0;
  // Start-up only (blocking): the rows of days at or after `from_day`, by day, owner and task.
  virtual core::Result<std::vector<UsageRow>> load_usage(std::int64_t from_day) = 0;
  // Removes an ended job's row and the Idempotency-Keys that name it; `done` once durable.
  virtual void purge(core::JobId id, Done done) = 0;
  virtual void prune_ended(Prune what, Pruned done) = 0;
  // Drops keys made before `before_ms` (they are kept 24 h).
  virtual void expire_keys(std::int64_t before_ms) = 0;

  virtual Health health() const = 0;
  // How long each transaction of saves took, BEGIN to COMMIT (fsync included). Any thread.
  virtual core::Histogram commit_seconds() const = 0;

  // Reads, completing on the awaiting coroutine's executor.
  virtual boost::asio::awaitable<core::Result<std::optional<core::Job>>> get(core::JobId id) = 0;
  virtual boost::asio::awaitable<core::Result<std::vector<core::Job>>> list(ListQuery q) = 0;
  // Usage rows, grouped as the query says.
  virtual boost::asio::awaitable<core::Result<std::vector<UsageRow>>> usage(UsageQuery q) = 0;
  // The record for `key` if it was made at or after `not_before_ms`.
  virtual boost::asio::awaitable<core::Result<std::optional<IdempotencyRecord>>> find_key(
      std::string key, std::int64_t not_before_ms) = 0;
};

}  // namespace vramq::store
