#pragma once
// A job store in memory (store/store.hpp's contract, without files or threads): for service
// tests that want no SQLite and no waiting. Saves complete on the loop, posted, in order, as
// the SQLite store's do. A test can put it at fault (fail()): saves in `once` mode then fail, the
// others wait, in order, until clear() (as the SQLite store retries them).
// Thread safety: loop only.

#include <boost/asio/any_io_executor.hpp>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <tuple>

#include "store/store.hpp"

namespace vramq::store {

class MemoryStore final : public Store {
 public:
  explicit MemoryStore(boost::asio::any_io_executor loop) : loop_(std::move(loop)) {}

  core::Result<std::vector<core::Job>> load_unfinished() override;
  core::Result<core::JobId> max_id() override;
  core::Result<std::int64_t> max_worker_id() override;
  core::Result<std::vector<FootprintRecord>> load_footprints() override;
  core::Result<std::optional<core::JobState>> state_blocking(core::JobId id) override;

  using Store::save;
  void save(core::Job job, Done done, std::optional<IdempotencyRecord> key,
            std::optional<FootprintRecord> footprint, SaveMode mode) override;
  void purge(core::JobId id, Done done) override;
  void prune_ended(Prune what, Pruned done) override;
  void expire_keys(std::int64_t before_ms) override;

  Health health() const override { return health_; }
  core::Histogram commit_seconds() const override { return commit_seconds_; }

  boost::asio::awaitable<core::Result<std::optional<core::Job>>> get(core::JobId id) override;
  boost::asio::awaitable<core::Result<std::vector<core::Job>>> list(ListQuery q) override;
  boost::asio::awaitable<core::Result<std::vector<UsageRow>>> usage(UsageQuery q) override;
  void add_usage(UsageRow run) override;
  core::Result<std::vector<UsageRow>> load_usage(std::int64_t from_day) override;
  boost::asio::awaitable<core::Result<std::optional<IdempotencyRecord>>> find_key(
      std::string key, std::int64_t not_before_ms) override;

  // Tests: the store at fault from now on (`fault` none: clear()), and back to health; the
  // changes kept meanwhile are then applied, in order.
  void fail(StoreFault fault, std::string error);
  void clear();
  // Tests: the rows as stored now (what a restarted server would load).
  const std::map<core::JobId, core::Job>& rows() const { return rows_; }
  // Tests: what a server started after this one's death (kill -9) would open: everything
  // stored so far (rows, keys, footprints, the ids used), none of the changes kept at fault.
  std::unique_ptr<MemoryStore> reopen(boost::asio::any_io_executor loop) const;

 private:
  struct Write {
    core::Job job;
    Done done;
    std::optional<IdempotencyRecord> key;
    std::optional<FootprintRecord> footprint;
  };
  core::Result<void> apply(Write& w);
  void remove(const std::vector<core::JobId>& ids);
  void complete(Done done, core::Result<void> r);

  boost::asio::any_io_executor loop_;
  std::map<core::JobId, core::Job> rows_;
  std::map<std::string, IdempotencyRecord> keys_;
  std::vector<FootprintRecord> footprints_;
  std::map<std::tuple<std::int64_t, std::string, std::string>, UsageRow> usage_;
  core::JobId max_removed_id_ = 0;
  std::int64_t max_removed_worker_ = 0;
  std::deque<Write> kept_;  // until_durable saves made while at fault
  Health health_;
  core::Histogram commit_seconds_{{0.001}};
};

}  // namespace vramq::store
