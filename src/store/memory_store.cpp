#include "store/memory_store.hpp"

#include <algorithm>
#include <boost/asio/post.hpp>

namespace vramq::store {
using core::Job;

namespace {
bool ended(const Job& j) {
  return j.state != core::JobState::queued && j.state != core::JobState::running;
}
}  // namespace

core::Result<std::vector<Job>> MemoryStore::load_unfinished() {
  std::vector<Job> out;
  for (const auto& [id, job] : rows_) {
    if (!ended(job)) out.push_back(job);
  }
  return out;
}

core::Result<core::JobId> MemoryStore::max_id() {
  core::JobId most = rows_.empty() ? 0 : rows_.rbegin()->first;
  return std::max(most, max_removed_id_);
}

core::Result<std::int64_t> MemoryStore::max_worker_id() {
  std::int64_t most = max_removed_worker_;
  for (const auto& [id, job] : rows_)
    most = std::max(most, job.worker);
  return most;
}

core::Result<std::vector<Store::FootprintRecord>> MemoryStore::load_footprints() {
  return footprints_;
}

core::Result<std::optional<core::JobState>> MemoryStore::state_blocking(core::JobId id) {
  auto it = rows_.find(id);
  if (it == rows_.end()) return std::optional<core::JobState>();
  return std::optional(it->second.state);
}

void MemoryStore::complete(Done done, core::Result<void> r) {
  if (!done) return;
  boost::asio::post(loop_, [done = std::move(done), r = std::move(r)] { done(r); });
}

core::Result<void> MemoryStore::apply(Write& w) {
  if (w.key) {
    auto [it, fresh] = keys_.try_emplace(w.key->key, *w.key);
    if (!fresh) return core::Error{"UNIQUE constraint failed: idempotency_keys.key"};
  }
  rows_.insert_or_assign(w.job.id, w.job);
  if (w.footprint) {
    footprints_.push_back(*w.footprint);
    // The newest 50 per bucket are kept.
    auto same = [&](const FootprintRecord& f) {
      return f.task == w.footprint->task && f.bucket == w.footprint->bucket;
    };
    if (std::ranges::count_if(footprints_, same) > 50) {
      footprints_.erase(std::ranges::find_if(footprints_, same));
    }
  }
  return {};
}

void MemoryStore::save(Job job, Done done, std::optional<IdempotencyRecord> key,
                       std::optional<FootprintRecord> footprint, SaveMode mode) {
  Write w{.job = std::move(job),
          .done = std::move(done),
          .key = std::move(key),
          .footprint = std::move(footprint)};
  if (health_.fault != StoreFault::none) {
    if (mode == SaveMode::once) {
      complete(std::move(w.done), core::Error{health_.error});
    } else {
      kept_.push_back(std::move(w));
    }
    return;
  }
  core::Result<void> r = apply(w);
  complete(std::move(w.done), r);
}

void MemoryStore::remove(const std::vector<core::JobId>& ids) {
  for (core::JobId id : ids) {
    auto it = rows_.find(id);
    if (it == rows_.end()) continue;
    max_removed_worker_ = std::max(max_removed_worker_, it->second.worker);
    max_removed_id_ = std::max(max_removed_id_, id);
    rows_.erase(it);
    std::erase_if(keys_, [id](const auto& k) { return k.second.job == id; });
  }
}

void MemoryStore::purge(core::JobId id, Done done) {
  if (health_.fault != StoreFault::none) {
    complete(std::move(done), core::Error{health_.error});
    return;
  }
  remove({id});
  complete(std::move(done), {});
}

void MemoryStore::prune_ended(Prune what, Pruned done) {
  std::vector<Job> ended_jobs;
  for (const auto& [id, job] : rows_) {
    if (ended(job)) ended_jobs.push_back(job);
  }
  // Oldest first, as the SQLite store takes them.
  std::ranges::sort(ended_jobs, [](const Job& a, const Job& b) {
    return std::pair(a.finished_at_ms, a.id) < std::pair(b.finished_at_ms, b.id);
  });
  std::int64_t over =
      what.keep > 0
          ? std::max<std::int64_t>(0, static_cast<std::int64_t>(ended_jobs.size()) - what.keep)
          : 0;
  std::vector<core::JobId> ids;
  for (const Job& j : ended_jobs) {
    if (static_cast<int>(ids.size()) >= what.limit) break;
    bool too_old = j.finished_at_ms < what.ended_before_ms;
    bool too_many = static_cast<std::int64_t>(ids.size()) < over;
    if (!too_old && !too_many) break;
    ids.push_back(j.id);
  }
  remove(ids);
  boost::asio::post(loop_, [done = std::move(done), ids = std::move(ids)] { done(ids); });
}

void MemoryStore::expire_keys(std::int64_t before_ms) {
  std::erase_if(keys_, [before_ms](const auto& k) { return k.second.created_at_ms < before_ms; });
}

boost::asio::awaitable<core::Result<std::optional<Job>>> MemoryStore::get(core::JobId id) {
  auto it = rows_.find(id);
  if (it == rows_.end()) co_return std::optional<Job>();
  co_return std::optional<Job>(it->second);
}

boost::asio::awaitable<core::Result<std::vector<Job>>> MemoryStore::list(ListQuery q) {
  std::vector<Job> out;
  for (auto it = rows_.rbegin(); it != rows_.rend() && static_cast<int>(out.size()) < q.limit;
       ++it) {
    const Job& j = it->second;
    if ((q.before > 0 && j.id >= q.before) || j.id < q.at_least) continue;
    if (std::ranges::find(q.states, j.state) == q.states.end()) continue;
    if (!q.name.empty() && j.spec.name != q.name) continue;
    if (!q.owner.empty() && j.spec.owner != q.owner) continue;
    if (q.label && std::ranges::find(j.spec.labels, *q.label) == j.spec.labels.end()) continue;
    out.push_back(j);
    out.back().output.clear();  // lists leave it out
  }
  co_return out;
}

boost::asio::awaitable<core::Result<std::optional<Store::IdempotencyRecord>>> MemoryStore::find_key(
    std::string key, std::int64_t not_before_ms) {
  auto it = keys_.find(key);
  if (it == keys_.end() || it->second.created_at_ms < not_before_ms) {
    co_return std::optional<IdempotencyRecord>();
  }
  co_return std::optional(it->second);
}

void MemoryStore::add_usage(UsageRow run) {
  // Usage is kept whatever the store's health (it is only accounting, retried by the real one).
  UsageRow& row = usage_[{run.day, run.owner, run.task}];
  row.day = run.day;
  row.owner = run.owner;
  row.task = run.task;
  row.runs += run.runs;
  row.reserved_mib_s += run.reserved_mib_s;
  row.measured_mib_s += run.measured_mib_s;
  row.gpu_s += run.gpu_s;
  row.preempted += run.preempted;
}

core::Result<std::vector<UsageRow>> MemoryStore::load_usage(std::int64_t from_day) {
  std::vector<UsageRow> out;
  for (const auto& [key, row] : usage_) {
    if (row.day >= from_day) out.push_back(row);
  }
  return out;
}

boost::asio::awaitable<core::Result<std::vector<UsageRow>>> MemoryStore::usage(UsageQuery q) {
  std::map<std::tuple<std::int64_t, std::string, std::string>, UsageRow> grouped;
  for (const auto& [key, row] : usage_) {
    if (row.day < q.from_day || row.day > q.to_day) continue;
    if (!q.owner.empty() && row.owner != q.owner) continue;
    std::tuple<std::int64_t, std::string, std::string> k{
        q.by_day ? row.day : 0, q.by_owner ? row.owner : "", q.by_task ? row.task : ""};
    UsageRow& g = grouped[k];
    std::tie(g.day, g.owner, g.task) = k;
    g.runs += row.runs;
    g.reserved_mib_s += row.reserved_mib_s;
    g.measured_mib_s += row.measured_mib_s;
    g.gpu_s += row.gpu_s;
    g.preempted += row.preempted;
  }
  std::vector<UsageRow> out;
  out.reserve(grouped.size());
  for (auto& [k, g] : grouped)
    out.push_back(std::move(g));
  co_return out;
}

std::unique_ptr<MemoryStore> MemoryStore::reopen(boost::asio::any_io_executor loop) const {
  auto next = std::make_unique<MemoryStore>(std::move(loop));
  next->rows_ = rows_;
  next->keys_ = keys_;
  next->footprints_ = footprints_;
  next->usage_ = usage_;
  next->max_removed_id_ = max_removed_id_;
  next->max_removed_worker_ = max_removed_worker_;
  return next;
}

void MemoryStore::fail(StoreFault fault, std::string error) {
  health_ = {.fault = fault, .error = std::move(error), .since_ms = 1};
}

void MemoryStore::clear() {
  health_ = {};
  while (!kept_.empty()) {
    Write w = std::move(kept_.front());
    kept_.pop_front();
    core::Result<void> r = apply(w);
    complete(std::move(w.done), r);
  }
}

}  // namespace vramq::store
