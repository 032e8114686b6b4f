#include "store/job_store.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <limits>
#include <span>

#include "store/job_row.hpp"
#include "store/schema.hpp"
#include "store/usage_table.hpp"

namespace vramq::store {
using core::Job;

namespace {

// Removes jobs' rows and the Idempotency-Keys that name them (a purge, or retention), and
// remembers the largest id removed so that max_id() never hands it out again. `ids` not empty.
std::string removal_sql(std::span<const core::JobId> ids) {
  // The highest warm-worker id among them is kept too (max_worker_id()), before the rows go.
  return fmt::format(
      "INSERT INTO counters (name, value) SELECT 'max_worker_id', MAX(worker) FROM jobs "
      "WHERE id IN ({0}) HAVING MAX(worker) > 0 ON CONFLICT(name) "
      "DO UPDATE SET value = max(value, excluded.value); "
      "DELETE FROM jobs WHERE id IN ({0}); DELETE FROM idempotency_keys WHERE job_id IN ({0}); "
      "INSERT INTO counters (name, value) VALUES ('max_purged_id', {1}) ON CONFLICT(name) "
      "DO UPDATE SET value = max(value, excluded.value);",
      fmt::join(ids, ","), *std::ranges::max_element(ids));
}

}  // namespace

core::Result<std::unique_ptr<JobStore>> JobStore::open(const std::string& path,
                                                       boost::asio::any_io_executor loop,
                                                       int busy_ms) {
  auto writer = Db::open(path, busy_ms);
  if (!writer) return writer.error();
  if (auto r = migrate(*writer); !r) return r.error();
  auto reader = Db::open(path, busy_ms);
  if (!reader) return reader.error();
  std::unique_ptr<JobStore> store(
      new JobStore(std::move(*writer), std::move(*reader), std::move(loop)));
  // One placeholder per column, so that adding a column cannot leave them out of step.
  std::string placeholders = "?";
  for (std::size_t n = std::ranges::count(kColumns, ','); n > 0; --n)
    placeholders += ",?";
  auto upsert = store->writer_db_.prepare(
      fmt::format("INSERT OR REPLACE INTO jobs ({}) VALUES ({})", kColumns, placeholders));
  if (!upsert) return upsert.error();
  store->upsert_ = std::move(*upsert);
  auto insert_key = store->writer_db_.prepare(
      "INSERT INTO idempotency_keys (key, body_hash, job_id, created_at) VALUES (?,?,?,?)");
  if (!insert_key) return insert_key.error();
  store->insert_key_ = std::move(*insert_key);
  auto insert_footprint = store->writer_db_.prepare(
      "INSERT INTO footprints (task, bucket, peak_mb, reserved_mb) VALUES (?,?,?,?)");
  if (!insert_footprint) return insert_footprint.error();
  store->insert_footprint_ = std::move(*insert_footprint);
  // Keeps the newest 50 samples of the bucket just written (core::Footprints keeps as many).
  auto prune = store->writer_db_.prepare(
      "DELETE FROM footprints WHERE task = ?1 AND bucket = ?2 AND id NOT IN "
      "(SELECT id FROM footprints WHERE task = ?1 AND bucket = ?2 ORDER BY id DESC LIMIT 50)");
  if (!prune) return prune.error();
  store->prune_footprints_ = std::move(*prune);
  auto add_usage = prepare_add_usage(store->writer_db_);
  if (!add_usage) return add_usage.error();
  store->add_usage_ = std::move(*add_usage);
  store->writer_ = std::thread([s = store.get()] { s->writer_main(); });
  return store;
}

JobStore::JobStore(Db writer, Db reader, boost::asio::any_io_executor loop)
    : writer_db_(std::move(writer)),
      reader_db_(std::move(reader)),
      loop_(loop),
      reader_worker_(std::move(loop)) {}

JobStore::~JobStore() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (writer_.joinable()) writer_.join();
  reader_worker_.join();
}

void JobStore::save(Job job, Done done, std::optional<IdempotencyRecord> key,
                    std::optional<FootprintRecord> footprint, SaveMode mode) {
  {
    std::lock_guard lock(mutex_);
    pending_.push_back({.job = std::move(job),
                        .done = std::move(done),
                        .key = std::move(key),
                        .footprint = std::move(footprint),
                        .mode = mode});
  }
  wake_.notify_one();
}

void JobStore::purge(core::JobId id, Done done) {
  {
    std::lock_guard lock(mutex_);
    pending_.push_back({.done = std::move(done), .purge = id, .mode = SaveMode::once});
  }
  wake_.notify_one();
}

void JobStore::add_usage(UsageRow run) {
  {
    std::lock_guard lock(mutex_);
    pending_.push_back({.usage = std::move(run), .mode = SaveMode::until_durable});
  }
  wake_.notify_one();
}

core::Result<std::vector<UsageRow>> JobStore::load_usage(std::int64_t from_day) {
  return query_usage(writer_db_, {.from_day = from_day,
                                  .to_day = std::numeric_limits<std::int64_t>::max(),
                                  .by_owner = true,
                                  .by_task = true,
                                  .by_day = true});
}

boost::asio::awaitable<core::Result<std::vector<UsageRow>>> JobStore::usage(UsageQuery q) {
  return reader_worker_.async_run([this, q = std::move(q)] { return query_usage(reader_db_, q); },
                                  boost::asio::use_awaitable);
}

void JobStore::expire_keys(std::int64_t before_ms) {
  {
    std::lock_guard lock(mutex_);
    // Once: a sweep that fails is made again by the next one.
    pending_.push_back(
        {.expire_before_ms = std::max<std::int64_t>(before_ms, 1), .mode = SaveMode::once});
  }
  wake_.notify_one();
}

void JobStore::prune_ended(Prune what, Pruned done) {
  {
    std::lock_guard lock(mutex_);
    pending_.push_back({.mode = SaveMode::once, .prune = what, .pruned = std::move(done)});
  }
  wake_.notify_one();
}

core::Result<void> JobStore::prune_in_transaction(Op& op) {
  const Prune& p = *op.prune;
  auto fail = [&](const char* what) {
    last_code_ = writer_db_.code();
    return core::Error{fmt::format("retention: {}: {}", what, writer_db_.error())};
  };
  std::int64_t over = 0;  // ended jobs beyond the count cap
  if (p.keep > 0) {
    auto count =
        writer_db_.prepare("SELECT count(*) FROM jobs WHERE state NOT IN ('queued', 'running')");
    if (!count || count->step() != SQLITE_ROW) return fail("counting ended jobs");
    over = std::max<std::int64_t>(0, count->int64(0) - p.keep);
  }
  // Oldest first: those past the age are a prefix of this order, and so are the ones the count
  // cap wants gone; take while either applies.
  auto pick = writer_db_.prepare(
      "SELECT id, finished_at FROM jobs INDEXED BY jobs_ended WHERE state NOT IN ('queued', "
      "'running') ORDER BY finished_at, id LIMIT ?1");
  if (!pick) return fail("finding ended jobs");
  pick->bind(1, std::int64_t{p.limit});
  int rc = 0;
  while ((rc = pick->step()) == SQLITE_ROW) {
    bool too_old = pick->int64(1) < p.ended_before_ms;
    bool too_many = static_cast<std::int64_t>(op.pruned_ids.size()) < over;
    if (!too_old && !too_many) break;
    op.pruned_ids.push_back(pick->int64(0));
  }
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) return fail("finding ended jobs");
  pick->reset();
  if (op.pruned_ids.empty()) return {};
  std::string sql = removal_sql(op.pruned_ids);
  if (!writer_db_.exec(sql.c_str())) return fail("removing ended jobs");
  return {};
}

JobStore::Health JobStore::health() const {
  std::lock_guard lock(mutex_);
  return health_;
}

core::Histogram JobStore::commit_seconds() const {
  std::lock_guard lock(mutex_);
  return commit_seconds_;
}

boost::asio::awaitable<core::Result<std::optional<Job>>> JobStore::get(core::JobId id) {
  return reader_worker_.async_run([this, id] { return get_on_reader(id); },
                                  boost::asio::use_awaitable);
}

boost::asio::awaitable<core::Result<std::vector<Job>>> JobStore::list(ListQuery q) {
  return reader_worker_.async_run([this, q = std::move(q)] { return list_on_reader(q); },
                                  boost::asio::use_awaitable);
}

boost::asio::awaitable<core::Result<std::optional<Store::IdempotencyRecord>>> JobStore::find_key(
    std::string key, std::int64_t not_before_ms) {
  return reader_worker_.async_run(
      [this, key = std::move(key), not_before_ms] {
        return find_key_on_reader(key, not_before_ms);
      },
      boost::asio::use_awaitable);
}

StoreFault JobStore::note_failure(const core::Error& error) {
  StoreFault fault = classify_sqlite(last_code_);
  if (fault == StoreFault::none) return fault;
  std::lock_guard lock(mutex_);
  if (health_.fault == StoreFault::none) {
    health_.since_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
    spdlog::error("job store: cannot write ({}): {}", to_string(fault), error.message);
  }
  health_.fault = fault;
  health_.error = error.message;
  return fault;
}

core::Result<void> JobStore::probe() {
  std::int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  std::string sql = fmt::format(
      "INSERT INTO counters (name, value) VALUES ('store_probe', {}) ON CONFLICT(name) DO "
      "UPDATE SET value = excluded.value",
      now);
  auto r = writer_db_.exec("BEGIN IMMEDIATE");
  if (r) r = writer_db_.exec(sql.c_str());
  if (r) r = writer_db_.exec("COMMIT");
  if (!r) {
    last_code_ = writer_db_.code();
    (void)writer_db_.exec("ROLLBACK");
  }
  return r;
}

void JobStore::writer_main() {
  constexpr std::size_t kMaxBatch = 1024;
  constexpr std::chrono::milliseconds kFirstBackoff{100};
  constexpr std::chrono::milliseconds kLongestBackoff{5000};
  std::chrono::milliseconds backoff{0};  // > 0 while the store is at fault
  std::vector<Op> batch;
  auto post_done = [this](Op& op, const core::Result<void>& r) {
    if (op.done) boost::asio::post(loop_, [done = std::move(op.done), r] { done(r); });
    if (op.pruned) {
      core::Result<std::vector<core::JobId>> ids = std::move(op.pruned_ids);
      if (!r) ids = r.error();
      boost::asio::post(loop_,
                        [pruned = std::move(op.pruned), ids = std::move(ids)] { pruned(ids); });
    }
  };
  while (true) {
    bool last_try = false;  // stopping while at fault: one more try, then give up
    {
      std::unique_lock lock(mutex_);
      if (backoff.count() > 0) {
        wake_.wait_for(lock, backoff, [&] { return stopping_; });
        last_try = stopping_;
        if (stopping_ && pending_.empty()) return;
      } else {
        wake_.wait(lock, [&] { return stopping_ || !pending_.empty(); });
        if (pending_.empty()) return;  // stopping, and everything saved is committed
      }
      while (!pending_.empty() && batch.size() < kMaxBatch) {
        batch.push_back(std::move(pending_.front()));
        pending_.pop_front();
      }
    }
    auto began = std::chrono::steady_clock::now();
    core::Result<void> result = batch.empty() ? probe() : write_batch(batch);
    if (!batch.empty()) {
      std::chrono::duration<double> took = std::chrono::steady_clock::now() - began;
      std::lock_guard lock(mutex_);
      commit_seconds_.observe(took.count());
    }
    if (result) {
      if (backoff.count() > 0) {
        std::lock_guard lock(mutex_);
        health_ = {};
        spdlog::info("job store: writing again");
      }
      backoff = std::chrono::milliseconds(0);
      for (Op& op : batch)
        post_done(op, {});
      batch.clear();
      continue;
    }
    StoreFault fault = note_failure(result.error());
    if (fault == StoreFault::none) {
      // Not the store's fault: one bad row must not fail its neighbours; retry each on its own.
      for (Op& op : batch) {
        std::vector<Op> one;
        one.push_back(std::move(op));
        core::Result<void> r = write_batch(one);
        post_done(one[0], r);
      }
      batch.clear();
      continue;
    }
    // The store's fault: those whose caller answers a client fail now; the changes of accepted
    // jobs wait, in order, for the next try.
    std::vector<Op> keep;
    for (Op& op : batch) {
      if (op.mode == SaveMode::once || last_try) {
        post_done(op, result.error());
      } else {
        keep.push_back(std::move(op));
      }
    }
    batch.clear();
    if (last_try) {
      spdlog::error(
          "job store: stopping with changes that could not be stored ({}); the next "
          "start recovers the jobs concerned from what is stored",
          result.error().message);
      return;
    }
    {
      std::lock_guard lock(mutex_);
      pending_.insert(pending_.begin(), std::make_move_iterator(keep.begin()),
                      std::make_move_iterator(keep.end()));
    }
    backoff = backoff.count() == 0 ? kFirstBackoff : std::min(backoff * 2, kLongestBackoff);
  }
}

core::Result<void> JobStore::write_batch(std::vector<Op>& batch) {
  if (auto r = writer_db_.exec("BEGIN IMMEDIATE"); !r) {
    last_code_ = writer_db_.code();
    return r;
  }
  auto fail = [&](std::string what) {
    last_code_ = writer_db_.code();
    core::Error err{fmt::format("{}: {}", what, writer_db_.error())};
    upsert_.reset();
    insert_key_.reset();
    insert_footprint_.reset();
    prune_footprints_.reset();
    (void)writer_db_.exec("ROLLBACK");
    return err;
  };
  for (Op& op : batch) {
    if (op.prune) {
      op.pruned_ids.clear();
      if (auto r = prune_in_transaction(op); !r) {
        (void)writer_db_.exec("ROLLBACK");
        return r;
      }
      continue;
    }
    if (op.purge > 0) {
      std::string sql = removal_sql(std::vector<core::JobId>{op.purge});
      if (!writer_db_.exec(sql.c_str())) return fail(fmt::format("purging job {}", op.purge));
      continue;
    }
    if (op.usage) {
      if (auto r = store::add_usage(add_usage_, *op.usage); !r) return fail(r.error().message);
      continue;
    }
    if (op.expire_before_ms > 0) {
      std::string sql =
          fmt::format("DELETE FROM idempotency_keys WHERE created_at < {}", op.expire_before_ms);
      if (!writer_db_.exec(sql.c_str())) return fail("expiring idempotency keys");
      continue;
    }
    upsert_.reset();
    bind_job(upsert_, op.job);
    if (upsert_.step() != SQLITE_DONE) return fail(fmt::format("saving job {}", op.job.id));
    if (op.key) {
      insert_key_.reset();
      insert_key_.bind(1, op.key->key);
      insert_key_.bind(2, op.key->body_hash);
      insert_key_.bind(3, op.key->job);
      insert_key_.bind(4, op.key->created_at_ms);
      if (insert_key_.step() != SQLITE_DONE) return fail("recording the idempotency key");
    }
    if (op.footprint) {
      insert_footprint_.reset();
      insert_footprint_.bind(1, op.footprint->task);
      insert_footprint_.bind(2, op.footprint->bucket);
      insert_footprint_.bind(3, op.footprint->peak_mb);
      insert_footprint_.bind(4, op.footprint->reserved_mb);
      if (insert_footprint_.step() != SQLITE_DONE) return fail("recording the footprint");
      prune_footprints_.reset();
      prune_footprints_.bind(1, op.footprint->task);
      prune_footprints_.bind(2, op.footprint->bucket);
      if (prune_footprints_.step() != SQLITE_DONE) return fail("pruning footprints");
    }
  }
  upsert_.reset();
  insert_key_.reset();
  insert_footprint_.reset();
  prune_footprints_.reset();
  add_usage_.reset();
  if (auto r = writer_db_.exec("COMMIT"); !r) {
    last_code_ = writer_db_.code();
    (void)writer_db_.exec("ROLLBACK");
    return r;
  }
  return {};
}

core::Result<std::vector<Job>> JobStore::load_unfinished() {
  auto s = writer_db_.prepare(fmt::format(
      "SELECT {} FROM jobs WHERE state IN ('queued', 'running') ORDER BY id", kColumns));
  if (!s) return s.error();
  std::vector<Job> jobs;
  int rc = 0;
  while ((rc = s->step()) == SQLITE_ROW)
    jobs.push_back(read_job(*s));
  if (rc != SQLITE_DONE) return core::Error{writer_db_.error()};
  return jobs;
}

core::Result<std::vector<JobStore::FootprintRecord>> JobStore::load_footprints() {
  auto s =
      writer_db_.prepare("SELECT task, bucket, peak_mb, reserved_mb FROM footprints ORDER BY id");
  if (!s) return s.error();
  std::vector<FootprintRecord> out;
  int rc = 0;
  while ((rc = s->step()) == SQLITE_ROW)
    out.push_back({.task = s->text(0),
                   .bucket = s->text(1),
                   .peak_mb = s->int64(2),
                   .reserved_mb = s->int64(3)});
  if (rc != SQLITE_DONE) return core::Error{writer_db_.error()};
  return out;
}

core::Result<core::JobId> JobStore::max_id() {
  // Purged jobs leave no row: the highest purged id is kept apart, so ids are never reused.
  auto s = writer_db_.prepare(
      "SELECT max(COALESCE((SELECT MAX(id) FROM jobs), 0), "
      "COALESCE((SELECT value FROM counters WHERE name = 'max_purged_id'), 0))");
  if (!s) return s.error();
  if (s->step() != SQLITE_ROW) return core::Error{writer_db_.error()};
  return s->int64(0);
}

core::Result<std::int64_t> JobStore::max_worker_id() {
  // Removed jobs leave no row: the highest worker id they named is kept apart (removal_sql).
  auto s = writer_db_.prepare(
      "SELECT max(COALESCE((SELECT MAX(worker) FROM jobs), 0), "
      "COALESCE((SELECT value FROM counters WHERE name = 'max_worker_id'), 0))");
  if (!s) return s.error();
  if (s->step() != SQLITE_ROW) return core::Error{writer_db_.error()};
  return s->int64(0);
}

core::Result<std::optional<Job>> JobStore::get_on_reader(core::JobId id) {
  auto s = reader_db_.prepare(fmt::format("SELECT {} FROM jobs WHERE id = ?", kColumns));
  if (!s) return s.error();
  s->bind(1, id);
  int rc = s->step();
  if (rc == SQLITE_ROW) return std::optional<Job>(read_job(*s));
  if (rc == SQLITE_DONE) return std::optional<Job>();
  return core::Error{reader_db_.error()};
}

core::Result<std::vector<Job>> JobStore::list_on_reader(const ListQuery& q) {
  std::vector<Job> jobs;
  if (q.states.empty() || q.limit <= 0) return jobs;
  std::string states;
  for (core::JobState st : q.states) {
    states += fmt::format("{}'{}'", states.empty() ? "" : ",", core::to_string(st));
  }
  // The state names come from the closed enum above, never from the client; every value a
  // client gives is bound.
  std::string columns(kColumns);
  columns.replace(columns.find("output"), 6, "'' AS output");
  std::string sql = fmt::format("SELECT {} FROM jobs WHERE state IN ({}) AND id < ?1 AND id >= ?2",
                                columns, states);
  if (!q.name.empty()) sql += " AND name = ?4";
  if (!q.owner.empty()) sql += " AND owner = ?5";
  if (q.label) sql += " AND json_extract(labels, ?6) = ?7";
  sql += " ORDER BY id DESC LIMIT ?3";
  auto s = reader_db_.prepare(sql);
  if (!s) return s.error();
  s->bind(1, q.before > 0 ? q.before : std::numeric_limits<std::int64_t>::max());
  s->bind(2, q.at_least);
  s->bind(3, std::int64_t{q.limit});
  if (!q.name.empty()) s->bind(4, q.name);
  if (!q.owner.empty()) s->bind(5, q.owner);
  if (q.label) {
    s->bind(6, fmt::format("$.\"{}\"", q.label->first));  // keys are [A-Za-z0-9._/-] only
    s->bind(7, q.label->second);
  }
  int rc = 0;
  while ((rc = s->step()) == SQLITE_ROW)
    jobs.push_back(read_job(*s));
  if (rc != SQLITE_DONE) return core::Error{reader_db_.error()};
  return jobs;
}

core::Result<std::optional<JobStore::IdempotencyRecord>> JobStore::find_key_on_reader(
    const std::string& key, std::int64_t not_before_ms) {
  auto s = reader_db_.prepare(
      "SELECT body_hash, job_id, created_at FROM idempotency_keys WHERE key = ? AND created_at >= "
      "?");
  if (!s) return s.error();
  s->bind(1, key);
  s->bind(2, not_before_ms);
  int rc = s->step();
  if (rc == SQLITE_DONE) return std::optional<IdempotencyRecord>();
  if (rc != SQLITE_ROW) return core::Error{reader_db_.error()};
  return std::optional<IdempotencyRecord>(IdempotencyRecord{
      .key = key, .body_hash = s->text(0), .job = s->int64(1), .created_at_ms = s->int64(2)});
}

core::Result<std::optional<core::JobState>> JobStore::state_blocking(core::JobId id) {
  auto s = reader_db_.prepare("SELECT state FROM jobs WHERE id = ?");
  if (!s) return s.error();
  s->bind(1, id);
  int rc = s->step();
  if (rc == SQLITE_DONE) return std::optional<core::JobState>();
  if (rc != SQLITE_ROW) return core::Error{reader_db_.error()};
  return std::optional<core::JobState>(
      core::parse_job_state(s->text(0)).value_or(core::JobState::failed));
}

core::Result<std::int64_t> JobStore::count_blocking() {
  auto s = reader_db_.prepare("SELECT COUNT(*) FROM jobs");
  if (!s) return s.error();
  if (s->step() != SQLITE_ROW) return core::Error{reader_db_.error()};
  return s->int64(0);
}

}  // namespace vramq::store
