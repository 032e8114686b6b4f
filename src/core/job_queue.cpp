#include "core/job_queue.hpp"

#include <boost/multi_index/identity.hpp>
#include <boost/multi_index/ordered_index.hpp>
#include <boost/multi_index/ranked_index.hpp>
#include <boost/multi_index_container.hpp>

namespace vramq::core {
namespace {

struct Entry {
  QueuedJob job;
  std::string record;
  // Written by passes; not part of either key, so safe to change in place.
  mutable std::optional<int> held_gpu;
  mutable PendingReason reason = PendingReason::none;
  mutable std::uint64_t pass = 0;  // the pass that last reached this job (0: none yet)

  bool operator<(const Entry& o) const { return queue_before(job, o.job); }
};

struct IdOf {
  using result_type = JobId;
  JobId operator()(const Entry& e) const { return e.job.id; }
};

namespace mi = boost::multi_index;
// By id: ordered, not hashed, so that growing the queue never rehashes a million entries in one
// go on the event loop (measured: a 35 ms /healthz stall at ~800k queued).
using Container = mi::multi_index_container<
    Entry, mi::indexed_by<mi::ranked_unique<mi::identity<Entry>>, mi::ordered_unique<IdOf>>>;

}  // namespace

struct JobQueue::Index {
  Container entries;
};

JobQueue::JobQueue() : index_(std::make_unique<Index>()) {}
JobQueue::~JobQueue() = default;
JobQueue::JobQueue(JobQueue&&) noexcept = default;
JobQueue& JobQueue::operator=(JobQueue&&) noexcept = default;

bool JobQueue::push(const QueuedJob& job, std::string record) {
  Entry e{.job = job,
          .record = std::move(record),
          .held_gpu = std::nullopt,
          .reason = PendingReason::none,
          .pass = 0};
  e.job.held_gpu.reset();
  if (!index_->entries.insert(std::move(e)).second) return false;
  ++vram_counts_[job.vram_mb];
  return true;
}

bool JobQueue::erase(JobId id) {
  auto& by_id = index_->entries.get<1>();
  auto it = by_id.find(id);
  if (it == by_id.end()) return false;
  auto count = vram_counts_.find(it->job.vram_mb);
  if (--count->second == 0) vram_counts_.erase(count);
  by_id.erase(it);
  return true;
}

bool JobQueue::contains(JobId id) const {
  return index_->entries.get<1>().count(id) != 0;
}

const std::string* JobQueue::record(JobId id) const {
  const auto& by_id = index_->entries.get<1>();
  auto it = by_id.find(id);
  return it == by_id.end() ? nullptr : &it->record;
}

std::vector<JobId> JobQueue::newest_before(JobId before, std::size_t limit) const {
  const auto& by_id = index_->entries.get<1>();
  std::vector<JobId> out;
  auto it = before > 0 ? by_id.lower_bound(before) : by_id.end();
  while (it != by_id.begin() && out.size() < limit) {
    --it;
    out.push_back(it->job.id);
  }
  return out;
}

std::size_t JobQueue::size() const {
  return index_->entries.size();
}

std::int64_t JobQueue::min_vram_mb() const {
  return vram_counts_.empty() ? 0 : vram_counts_.begin()->first;
}

std::vector<StartDecision> JobQueue::pass(Planner planner) {
  ++passes_;
  std::vector<StartDecision> starts;
  for (const Entry& e : index_->entries) {
    if (planner.settled()) break;
    QueuedJob job = e.job;
    job.held_gpu = e.held_gpu;
    Planner::Decision d = planner.offer(job);
    if (d.start) {
      starts.push_back(*d.start);
      e.reason = PendingReason::none;
      e.held_gpu.reset();
    } else {
      e.reason = d.pending->reason;
      e.held_gpu = d.pending->held_gpu;
    }
    e.pass = passes_;
  }
  last_ = std::move(planner);
  return starts;
}

std::optional<JobQueue::Place> JobQueue::place(JobId id) const {
  const auto& by_id = index_->entries.get<1>();
  auto it = by_id.find(id);
  if (it == by_id.end()) return std::nullopt;
  auto in_order = index_->entries.project<0>(it);
  Place out{.position = static_cast<int>(index_->entries.get<0>().rank(in_order)),
            .reason = PendingReason::none};
  if (it->pass == passes_ && passes_ != 0) {
    out.reason = it->reason;
  } else if (last_) {
    out.reason = last_->reason_for(it->job);  // not reached by the last pass, or newer than it
  }
  return out;
}

void JobQueue::set_reason(JobId id, PendingReason reason) {
  const auto& by_id = index_->entries.get<1>();
  if (auto it = by_id.find(id); it != by_id.end()) {
    it->reason = reason;
    it->pass = passes_;
  }
}

std::vector<QueuedJob> JobQueue::snapshot() const {
  std::vector<QueuedJob> out;
  out.reserve(size());
  for (const Entry& e : index_->entries) {
    out.push_back(e.job);
    out.back().held_gpu = e.held_gpu;
  }
  return out;
}

}  // namespace vramq::core
