#include "core/job_queue.hpp"

#include <boost/multi_index/identity.hpp>
#include <boost/multi_index/ordered_index.hpp>
#include <boost/multi_index/ranked_index.hpp>
#include <boost/multi_index_container.hpp>

#include <algorithm>
#include <bit>
#include <limits>
#include <tuple>

namespace vramq::core {
namespace {

struct Entry {
  // Passes write job.held_gpus in place (mutable): no index key reads it. The key fields
  // (priority, id, vram_mb, queued_at_ms) never change while the job is queued.
  mutable QueuedJob job;
  std::string record;
  // Waited past the backfill bound; part of the stream key, so changed only through modify().
  bool starving = false;
  // Written by passes; not part of any key, so safe to change in place.
  mutable PendingReason reason = PendingReason::none;
  mutable std::uint64_t pass = 0;  // the pass that last reached this job (0: none yet)

  bool operator<(const Entry& o) const { return queue_before(job, o.job); }
};

struct IdOf {
  using result_type = JobId;
  JobId operator()(const Entry& e) const { return e.job.id; }
};

// Reservation classes: floor(log2(MiB)). A job can start only if its class is at most the class
// of the most VRAM free on a GPU.
int vram_class(std::int64_t mb) {
  return mb <= 1 ? 0 : static_cast<int>(std::bit_width(static_cast<std::uint64_t>(mb))) - 1;
}
constexpr int kStarvingStream = -1;

// Which stream a job is in (starving, else its reservation class), then queue order.
struct StreamKey {
  int stream = 0;
  int neg_priority = 0;
  JobId id = 0;
  bool operator<(const StreamKey& o) const {
    return std::tie(stream, neg_priority, id) < std::tie(o.stream, o.neg_priority, o.id);
  }
};
struct StreamOf {
  using result_type = StreamKey;
  StreamKey operator()(const Entry& e) const {
    return {.stream = e.starving ? kStarvingStream : vram_class(e.job.vram_mb),
            .neg_priority = -e.job.priority,
            .id = e.job.id};
  }
};

struct QueuedAtKey {
  std::int64_t queued_at_ms = 0;
  JobId id = 0;
  bool operator<(const QueuedAtKey& o) const {
    return std::tie(queued_at_ms, id) < std::tie(o.queued_at_ms, o.id);
  }
};
struct QueuedAtOf {
  using result_type = QueuedAtKey;
  QueuedAtKey operator()(const Entry& e) const { return {e.job.queued_at_ms, e.job.id}; }
};

namespace mi = boost::multi_index;
// 0: queue order with ranks (positions); 1: by id (ordered, not hashed, so that growing the
// queue never rehashes a million entries in one go on the event loop: measured, a 35 ms
// /healthz stall at ~800k queued); 2: by stream then queue order (the skipping pass);
// 3: by queued_at (marking jobs starving as time passes).
using Container = mi::multi_index_container<
    Entry, mi::indexed_by<mi::ranked_unique<mi::identity<Entry>>, mi::ordered_unique<IdOf>,
                          mi::ordered_unique<StreamOf>, mi::ordered_unique<QueuedAtOf>>>;

// Offers one job to the planner and records the outcome on it.
void offer(Planner& planner, const Entry& e, std::uint64_t pass,
           std::vector<StartDecision>& starts) {
  Planner::Decision d = planner.offer(e.job);
  if (d.start) {
    starts.push_back(*d.start);
    e.reason = PendingReason::none;
    e.job.held_gpus.clear();
  } else {
    e.reason = d.pending->reason;
    e.job.held_gpus = d.pending->held_gpus;
  }
  e.pass = pass;
}

// Every job in queue order until the planner settles.
void walk(const Container& entries, Planner& planner, std::uint64_t pass,
          std::vector<StartDecision>& starts) {
  for (const Entry& e : entries) {
    if (planner.settled()) break;
    offer(planner, e, pass, starts);
  }
}

// Only the jobs that can start (reservation <= the most free on a GPU) or hold (starving), in
// queue order: one cursor per stream, the earliest in queue order goes next. A skipped job could
// neither start (the most free only decreases during a pass) nor hold (not starving), so
// plan() would only have given it a pending reason, the one the settled planner gives.
void skip_walk(const Container& entries, Planner& planner, std::uint64_t pass,
               std::vector<StartDecision>& starts) {
  if (planner.settled()) return;
  const auto& streams = entries.get<2>();
  using It = std::decay_t<decltype(streams)>::const_iterator;
  struct Cursor {
    int stream;
    It at;
  };
  std::vector<Cursor> cursors;
  int top = planner.most_available_mb()
                ? vram_class(std::max<std::int64_t>(0, *planner.most_available_mb()))
                : -1;
  for (int stream = kStarvingStream; stream <= top; ++stream) {
    It it = streams.lower_bound(
        StreamKey{.stream = stream, .neg_priority = std::numeric_limits<int>::min(), .id = 0});
    if (it != streams.end() && StreamOf{}(*it).stream == stream) cursors.push_back({stream, it});
  }
  while (!planner.settled() && !cursors.empty()) {
    std::optional<std::int64_t> most = planner.most_available_mb();
    // Streams of reservations larger than anything free now are done for this pass.
    std::erase_if(cursors, [&](const Cursor& c) {
      return c.stream != kStarvingStream && (!most || *most < 0 || c.stream > vram_class(*most));
    });
    if (cursors.empty()) break;
    auto next = std::ranges::min_element(cursors, [](const Cursor& a, const Cursor& b) {
      return queue_before(a.at->job, b.at->job);
    });
    const Entry& e = *next->at;
    if (++next->at == streams.end() || StreamOf{}(*next->at).stream != next->stream) {
      cursors.erase(next);
    }
    if (!e.starving && (!most || e.job.vram_mb > *most)) continue;  // cannot start: skipped
    offer(planner, e, pass, starts);
  }
}

}  // namespace

struct JobQueue::Index {
  Container entries;
};

JobQueue::JobQueue(std::size_t linear_below)
    : index_(std::make_unique<Index>()), linear_below_(linear_below) {}
JobQueue::~JobQueue() = default;
JobQueue::JobQueue(JobQueue&&) noexcept = default;
JobQueue& JobQueue::operator=(JobQueue&&) noexcept = default;

bool JobQueue::push(const QueuedJob& job, std::string record) {
  Entry e{.job = job,
          .record = std::move(record),
          .starving = job.queued_at_ms <= starving_cutoff_ms_,
          .reason = PendingReason::none,
          .pass = 0};
  e.job.held_gpus.clear();
  if (!index_->entries.insert(std::move(e)).second) return false;
  ++vram_counts_[job.vram_mb];
  if (job.owner >= owner_counts_.size()) owner_counts_.resize(job.owner + 1);
  ++owner_counts_[job.owner];
  return true;
}

bool JobQueue::erase(JobId id) {
  auto& by_id = index_->entries.get<1>();
  auto it = by_id.find(id);
  if (it == by_id.end()) return false;
  auto count = vram_counts_.find(it->job.vram_mb);
  if (--count->second == 0) vram_counts_.erase(count);
  --owner_counts_[it->job.owner];
  by_id.erase(it);
  return true;
}

std::size_t JobQueue::count_of(std::uint32_t owner) const {
  return owner < owner_counts_.size() ? owner_counts_[owner] : 0;
}

bool JobQueue::contains(JobId id) const {
  return index_->entries.get<1>().count(id) != 0;
}

const std::string* JobQueue::record(JobId id) const {
  const auto& by_id = index_->entries.get<1>();
  auto it = by_id.find(id);
  return it == by_id.end() ? nullptr : &it->record;
}

std::vector<JobId> JobQueue::head(std::size_t limit) const {
  std::vector<JobId> out;
  for (auto it = index_->entries.begin(); it != index_->entries.end() && out.size() < limit; ++it)
    out.push_back(it->job.id);
  return out;
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

void JobQueue::mark_starving(std::int64_t cutoff_ms) {
  if (cutoff_ms <= starving_cutoff_ms_) return;
  auto& by_time = index_->entries.get<3>();
  // Everything at or before the old cutoff is marked already (push marks late arrivals).
  auto it = starving_cutoff_ms_ == std::numeric_limits<std::int64_t>::min()
                ? by_time.begin()
                : by_time.upper_bound(
                      QueuedAtKey{starving_cutoff_ms_, std::numeric_limits<JobId>::max()});
  while (it != by_time.end() && it->job.queued_at_ms <= cutoff_ms) {
    // The key changes in the stream index only, so `next` stays the next one by time.
    auto next = std::next(it);
    by_time.modify(it, [](Entry& e) { e.starving = true; });
    it = next;
  }
  starving_cutoff_ms_ = cutoff_ms;
}

std::vector<StartDecision> JobQueue::pass(Planner planner) {
  ++passes_;
  mark_starving(planner.starving_cutoff_ms());
  planner.count_owners(owner_counts_);
  std::vector<StartDecision> starts;
  // Idle warm workers let a job start (or make room) whatever its reservation: every job is
  // offered while there are any.
  if (size() < linear_below_ || planner.has_idle_workers()) {
    walk(index_->entries, planner, passes_, starts);
  } else {
    skip_walk(index_->entries, planner, passes_, starts);
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

bool JobQueue::reached(JobId id) const {
  const auto& by_id = index_->entries.get<1>();
  auto it = by_id.find(id);
  return it != by_id.end() && passes_ != 0 && it->pass == passes_;
}

std::vector<int> JobQueue::held_gpus(JobId id) const {
  const auto& by_id = index_->entries.get<1>();
  auto it = by_id.find(id);
  return it == by_id.end() ? std::vector<int>{} : it->job.held_gpus;
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
  for (const Entry& e : index_->entries)
    out.push_back(e.job);
  return out;
}

}  // namespace vramq::core
