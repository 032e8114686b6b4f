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
  // (priority, id, owner, vram_mb, queued_at_ms) never change while the job is queued.
  mutable QueuedJob job;
  std::string record;
  // Waited past the backfill bound; part of the stream key, so changed only through modify().
  bool starving = false;
  // Written by passes; not part of any key, so safe to change in place.
  mutable PendingReason reason = PendingReason::none;
  mutable std::uint64_t pass = 0;  // the pass that last reached this job (0: none yet)
  // The next entry of its run in the stream index (same stream and owner; nullptr: the last),
  // kept by JobQueue::Index so that a pass steps through a run with one load instead of the
  // tree's successor walk (an owner's jobs lie scattered among everyone else's).
  mutable const Entry* next_in_run = nullptr;
};

// The stored order: priority desc, owner, id. Each owner's jobs of a priority are one run in it;
// the fair order merges those runs by the owners' shares, which change between passes and so
// are not part of any stored key.
struct OrderKey {
  int neg_priority = 0;
  std::uint32_t owner = 0;
  JobId id = 0;
  bool operator<(const OrderKey& o) const {
    return std::tie(neg_priority, owner, id) < std::tie(o.neg_priority, o.owner, o.id);
  }
};
struct OrderOf {
  using result_type = OrderKey;
  OrderKey operator()(const Entry& e) const {
    return {.neg_priority = -e.job.priority, .owner = e.job.owner, .id = e.job.id};
  }
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

// Which stream a job is in (starving, else its reservation class), its owner, then priority and
// id: one run per stream and owner, in fair order.
struct StreamKey {
  int stream = 0;
  std::uint32_t owner = 0;
  int neg_priority = 0;
  JobId id = 0;
  bool operator<(const StreamKey& o) const {
    return std::tie(stream, owner, neg_priority, id) <
           std::tie(o.stream, o.owner, o.neg_priority, o.id);
  }
};
struct StreamOf {
  using result_type = StreamKey;
  StreamKey operator()(const Entry& e) const {
    return {.stream = e.starving ? kStarvingStream : vram_class(e.job.vram_mb),
            .owner = e.job.owner,
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
// 0: stored order with ranks (positions); 1: by id (ordered, not hashed, so that growing the
// queue never rehashes a million entries in one go on the event loop: measured, a 35 ms
// /healthz stall at ~800k queued); 2: by stream and owner (the skipping pass);
// 3: by queued_at (marking jobs starving as time passes).
using Container = mi::multi_index_container<
    Entry, mi::indexed_by<mi::ranked_unique<OrderOf>, mi::ordered_unique<IdOf>,
                          mi::ordered_unique<StreamOf>, mi::ordered_unique<QueuedAtOf>>>;
using OrderIndex = Container::nth_index<0>::type;
using StreamIndex = Container::nth_index<2>::type;

bool same_run(const Entry& a, const Entry& b) {
  StreamKey ka = StreamOf{}(a);
  StreamKey kb = StreamOf{}(b);
  return ka.stream == kb.stream && ka.owner == kb.owner;
}

}  // namespace

struct JobQueue::Index {
  Container entries;
  // The first entry of each run of the stream index (a stream and an owner), so that a skipping
  // pass starts its runs without a search per run (50 owners x a few streams).
  std::map<std::pair<int, std::uint32_t>, const Entry*> runs;

  static std::pair<int, std::uint32_t> run_of(const Entry& e) {
    StreamKey k = StreamOf{}(e);
    return {k.stream, k.owner};
  }
  // After `e` is stored (or its stream changed): links it into its run.
  void added(const Entry& e) {
    const StreamIndex& streams = entries.get<2>();
    auto at = streams.iterator_to(e);
    auto next = std::next(at);
    e.next_in_run = next != streams.end() && same_run(*next, e) ? &*next : nullptr;
    if (at != streams.begin()) {
      const Entry& prev = *std::prev(at);
      if (same_run(prev, e)) prev.next_in_run = &e;
    }
    auto [it, fresh] = runs.try_emplace(run_of(e), &e);
    if (!fresh && StreamOf{}(e) < StreamOf{}(*it->second)) it->second = &e;
  }
  // Before `e` is erased (or its stream changed): unlinks it from its run.
  void leaving(const Entry& e) {
    const StreamIndex& streams = entries.get<2>();
    auto at = streams.iterator_to(e);
    if (at != streams.begin()) {
      const Entry& prev = *std::prev(at);
      if (prev.next_in_run == &e) prev.next_in_run = e.next_in_run;
    }
    auto it = runs.find(run_of(e));
    if (it != runs.end() && it->second == &e) {
      if (e.next_in_run != nullptr) {
        it->second = e.next_in_run;
      } else {
        runs.erase(it);
      }
    }
    e.next_in_run = nullptr;
  }
};

namespace {

// The fair order: priority desc, then the owner's share asc (core/fair_share.hpp), then id asc.
struct FairOrder {
  const std::vector<double>* shares = nullptr;
  double share(std::uint32_t owner) const {
    return owner < shares->size() ? (*shares)[owner] : 0.0;
  }
  bool before(const QueuedJob& a, const QueuedJob& b) const {
    if (a.priority != b.priority) return a.priority > b.priority;
    double sa = share(a.owner);
    double sb = share(b.owner);
    if (sa != sb) return sa < sb;
    return a.id < b.id;
  }
};

// A run of entries already in fair order, merged with others through a heap. The heap compares
// a copy of each run's next key (priority, share, id), not the entries: no node is touched to
// order the runs. The run in front is advanced in place (advance()): one sift down from the
// root, which stops at once while the run still comes first (owners with distinct shares follow
// each other whole, so most of their entries cost two comparisons), instead of a pop and a push.
template <class It>
struct Run {
  It at;
  It end;
};
template <class It>
class RunHeap {
 public:
  explicit RunHeap(FairOrder order) : order_(order) {}
  void push(Run<It> run) {
    if (run.at == run.end) return;
    Keyed k{.slot = static_cast<std::uint32_t>(runs_.size())};
    runs_.push_back(run);
    set_key(k);
    heap_.push_back(k);
    std::ranges::push_heap(heap_, later);
  }
  bool empty() const { return heap_.empty(); }
  // The run whose next entry comes first. Valid until the next call that changes the heap.
  const Run<It>& front() const { return runs_[heap_.front().slot]; }
  // The front run goes on at `at` (its end: it leaves the heap).
  void advance(It at) {
    Keyed& f = heap_.front();
    Run<It>& run = runs_[f.slot];
    if (at == run.end) {
      drop();
      return;
    }
    run.at = at;
    set_key(f);
    sift_down();
  }
  // The front run leaves the heap.
  void drop() {
    std::ranges::pop_heap(heap_, later);
    heap_.pop_back();
  }

 private:
  // The heap holds only the keys (24 bytes) and the run's slot: a sift moves little.
  struct Keyed {
    int neg_priority = 0;
    std::uint32_t slot = 0;  // in runs_
    double share = 0;
    JobId id = 0;
  };
  void set_key(Keyed& k) const {
    const QueuedJob& j = runs_[k.slot].at->job;
    k.neg_priority = -j.priority;
    k.share = order_.share(j.owner);
    k.id = j.id;
  }
  static bool later(const Keyed& a, const Keyed& b) {
    if (a.neg_priority != b.neg_priority) return a.neg_priority > b.neg_priority;
    if (a.share != b.share) return a.share > b.share;
    return a.id > b.id;
  }
  // Restores the heap order (std::push_heap's layout) after the root's key grew. The child is
  // chosen without a branch: with equal shares which child comes first is a coin toss.
  void sift_down() {
    std::size_t n = heap_.size();
    std::size_t i = 0;
    Keyed moving = heap_[0];
    for (;;) {
      std::size_t c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n) c += static_cast<std::size_t>(later(heap_[c], heap_[c + 1]));
      if (!later(moving, heap_[c])) break;
      heap_[i] = heap_[c];
      i = c;
    }
    heap_[i] = moving;
  }
  FairOrder order_;
  std::vector<Run<It>> runs_;  // every run pushed, by slot
  std::vector<Keyed> heap_;    // the runs not yet done, by their next entry
};

// Calls fn(entry) for the stored entries in fair order until it returns false. Entries of an
// owner for which skip_owner(owner) is true are passed over from then on.
template <class Fn, class SkipOwner>
void for_each_fair(const OrderIndex& order, FairOrder fair, Fn&& fn, SkipOwner&& skip_owner) {
  using It = OrderIndex::const_iterator;
  It block = order.begin();
  while (block != order.end()) {
    // One priority: a run per owner, merged.
    int np = -block->job.priority;
    It block_end = order.lower_bound(OrderKey{.neg_priority = np + 1});
    RunHeap<It> heap(fair);
    for (It r = block; r != block_end;) {
      std::uint32_t owner = r->job.owner;
      It r_end = order.lower_bound(OrderKey{.neg_priority = np, .owner = owner + 1});
      if (!skip_owner(owner)) heap.push({r, r_end});
      r = r_end;
    }
    while (!heap.empty()) {
      const Entry& e = *heap.front().at;
      if (skip_owner(e.job.owner)) {  // closed during this walk
        heap.drop();
        continue;
      }
      if (!fn(e)) return;
      heap.advance(std::next(heap.front().at));
    }
    block = block_end;
  }
}

// Offers one job to the planner and records the outcome on it.
void offer(Planner& planner, const Entry& e, std::uint64_t pass, std::vector<StartDecision>& starts,
           std::vector<JobId>& holders) {
  Planner::Decision d = planner.offer(e.job);
  if (d.start) {
    starts.push_back(*d.start);
    e.reason = PendingReason::none;
    e.job.held_gpus.clear();
  } else {
    e.reason = d.pending->reason;
    e.job.held_gpus = d.pending->held_gpus;
    for (int g : e.job.held_gpus) {
      if (g >= 0) {
        if (static_cast<std::size_t>(g) >= holders.size()) holders.resize(g + 1, 0);
        holders[static_cast<std::size_t>(g)] = e.job.id;
      }
    }
  }
  e.pass = pass;
}

// Every job in fair order until the planner settles; an owner closed by its limits is passed
// over (its jobs would only be turned down one by one: the settled planner gives their reason;
// a starving job of a closed owner holds nothing).
void walk(const Container& entries, FairOrder fair, Planner& planner, std::uint64_t pass,
          std::vector<StartDecision>& starts, std::vector<JobId>& holders) {
  for_each_fair(
      entries.get<0>(), fair,
      [&](const Entry& e) {
        if (planner.settled()) return false;
        offer(planner, e, pass, starts, holders);
        return true;
      },
      [&](std::uint32_t owner) { return planner.closed(owner); });
}

// Only the jobs that can start (reservation <= the most free on a GPU) or hold (starving), in
// fair order: one run per stream and owner, merged. A skipped job could neither start (the most
// free only decreases during a pass, and a closed owner stays closed) nor hold (not starving),
// so plan() would only have given it a pending reason, the one the settled planner gives.
void skip_walk(const JobQueue::Index& index, FairOrder fair, Planner& planner, std::uint64_t pass,
               std::vector<StartDecision>& starts, std::vector<JobId>& holders) {
  if (planner.settled()) return;
  const StreamIndex& streams = index.entries.get<2>();
  using It = StreamIndex::const_iterator;
  int top = planner.most_available_mb()
                ? vram_class(std::max<std::int64_t>(0, *planner.most_available_mb()))
                : -1;
  RunHeap<It> heap(fair);
  for (auto it = index.runs.lower_bound({kStarvingStream, 0});
       it != index.runs.end() && it->first.first <= top; ++it) {
    if (!planner.closed(it->first.second)) {
      heap.push({streams.iterator_to(*it->second), streams.end()});
    }
  }
  while (!planner.settled() && !heap.empty()) {
    const Entry& e = *heap.front().at;
    std::optional<std::int64_t> most = planner.most_available_mb();
    // A run of an owner now closed, or of reservations larger than anything free now, is done
    // for this pass.
    if (planner.closed(e.job.owner) ||
        (!e.starving && (!most || *most < 0 || vram_class(e.job.vram_mb) > vram_class(*most)))) {
      heap.drop();
      continue;
    }
    heap.advance(e.next_in_run != nullptr ? streams.iterator_to(*e.next_in_run) : streams.end());
    if (!e.starving && e.job.vram_mb > *most) continue;  // cannot start: skipped
    offer(planner, e, pass, starts, holders);
  }
}

// A job's place in the fair order: every job of a higher priority, then per owner with queued
// jobs, those of its run at this priority that the merge puts first.
int fair_position(const OrderIndex& order, const std::vector<double>& shares,
                  const std::vector<std::size_t>& owner_counts, const Entry& e) {
  auto rank = [&](OrderKey k) { return static_cast<int>(order.lower_bound_rank(k)); };
  int np = -e.job.priority;
  int position = rank(OrderKey{.neg_priority = np});
  FairOrder fair{&shares};
  double share = fair.share(e.job.owner);
  for (std::uint32_t o = 0; o < owner_counts.size(); ++o) {
    if (owner_counts[o] == 0) continue;
    double other = fair.share(o);
    if (o == e.job.owner || other == share) {
      position += rank(OrderKey{.neg_priority = np, .owner = o, .id = e.job.id}) -
                  rank(OrderKey{.neg_priority = np, .owner = o});
    } else if (other < share) {
      position += rank(OrderKey{.neg_priority = np, .owner = o + 1}) -
                  rank(OrderKey{.neg_priority = np, .owner = o});
    }
  }
  return position;
}

}  // namespace

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
  auto [at, inserted] = index_->entries.insert(std::move(e));
  if (!inserted) return false;
  index_->added(*at);
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
  index_->leaving(*it);
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

const QueuedJob* JobQueue::job(JobId id) const {
  const auto& by_id = index_->entries.get<1>();
  auto it = by_id.find(id);
  return it == by_id.end() ? nullptr : &it->job;
}

std::vector<JobId> JobQueue::head(std::size_t limit) const {
  std::vector<JobId> out;
  if (limit == 0) return out;
  for_each_fair(
      index_->entries.get<0>(), FairOrder{&shares_},
      [&](const Entry& e) {
        out.push_back(e.job.id);
        return out.size() < limit;
      },
      [](std::uint32_t) { return false; });
  return out;
}

std::vector<JobId> JobQueue::owner_heads() const {
  const OrderIndex& order = index_->entries.get<0>();
  std::vector<const Entry*> firsts;
  std::vector<bool> seen(owner_counts_.size(), false);
  // Priority blocks from the highest: an owner's first job is in the first block it has one in.
  for (auto block = order.begin(); block != order.end();) {
    int np = -block->job.priority;
    for (std::uint32_t o = 0; o < owner_counts_.size(); ++o) {
      if (seen[o] || owner_counts_[o] == 0) continue;
      auto it = order.lower_bound(OrderKey{.neg_priority = np, .owner = o});
      if (it != order.end() && it->job.priority == block->job.priority && it->job.owner == o) {
        firsts.push_back(&*it);
        seen[o] = true;
      }
    }
    block = order.lower_bound(OrderKey{.neg_priority = np + 1});
  }
  FairOrder fair{&shares_};
  std::ranges::sort(firsts,
                    [&](const Entry* a, const Entry* b) { return fair.before(a->job, b->job); });
  std::vector<JobId> out;
  out.reserve(firsts.size());
  for (const Entry* e : firsts)
    out.push_back(e->job.id);
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
    index_->leaving(*it);
    by_time.modify(it, [](Entry& e) { e.starving = true; });
    index_->added(*it);
    it = next;
  }
  starving_cutoff_ms_ = cutoff_ms;
}

void JobQueue::reorder(std::int64_t starving_cutoff_ms, std::vector<double> shares) {
  shares_ = std::move(shares);
  mark_starving(starving_cutoff_ms);
}

std::vector<StartDecision> JobQueue::pass(Planner planner, std::vector<double> shares) {
  ++passes_;
  reorder(planner.starving_cutoff_ms(), std::move(shares));
  planner.count_owners(owner_counts_);
  holders_.clear();
  std::vector<StartDecision> starts;
  // Idle warm workers let a job start (or make room) whatever its reservation: every job is
  // offered while there are any.
  if (size() < linear_below_ || planner.has_idle_workers()) {
    walk(index_->entries, FairOrder{&shares_}, planner, passes_, starts, holders_);
  } else {
    skip_walk(*index_, FairOrder{&shares_}, planner, passes_, starts, holders_);
  }
  last_ = std::move(planner);
  return starts;
}

std::optional<JobQueue::Place> JobQueue::place(JobId id) const {
  const auto& by_id = index_->entries.get<1>();
  auto it = by_id.find(id);
  if (it == by_id.end()) return std::nullopt;
  Place out{.position = fair_position(index_->entries.get<0>(), shares_, owner_counts_, *it),
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

std::vector<QueuedJob> JobQueue::snapshot(const QueuedJob* probe) const {
  std::vector<QueuedJob> out;
  out.reserve(size() + (probe != nullptr ? 1 : 0));
  // The probe goes where it would stand among them.
  std::optional<QueuedJob> extra;
  if (probe != nullptr) extra = *probe;
  FairOrder fair{&shares_};
  for_each_fair(
      index_->entries.get<0>(), fair,
      [&](const Entry& e) {
        if (extra && fair.before(*extra, e.job)) {
          out.push_back(*extra);
          extra.reset();
        }
        out.push_back(e.job);
        return true;
      },
      [](std::uint32_t) { return false; });
  if (extra) out.push_back(*extra);
  return out;
}

}  // namespace vramq::core
