#include "core/scheduler.hpp"

#include <algorithm>
#include <limits>

#include "core/worker_eviction.hpp"

namespace vramq::core {
namespace {

using GpuState = Planner::GpuState;

constexpr std::int64_t kNoFit = std::numeric_limits<std::int64_t>::min();

// Rank: among GPUs that are known, not held and have room, the one left with the least VRAM
// (best fit); ties go to the lower index. Returns the index into `gpus`, or -1.
int best_fit(const std::vector<GpuState>& gpus, std::int64_t need_mb) {
  int best = -1;
  for (int g = 0; g < static_cast<int>(gpus.size()); ++g) {
    const GpuState& s = gpus[g];
    if (!s.known || s.held_by_priority || s.available_mb < need_mb) continue;
    if (best < 0 || s.available_mb < gpus[best].available_mb) best = g;
  }
  return best;
}

// Rank for a job of `count` GPUs: the `count` known, unheld GPUs with room that are left with the
// least (best fit; ties to the lower index), in index order; empty when fewer have room.
std::vector<int> best_fits(const std::vector<GpuState>& gpus, std::int64_t need_mb, int count) {
  std::vector<int> fit;
  for (int g = 0; g < static_cast<int>(gpus.size()); ++g) {
    const GpuState& s = gpus[g];
    if (s.known && !s.held_by_priority && s.available_mb >= need_mb) fit.push_back(g);
  }
  if (static_cast<int>(fit.size()) < count) return {};
  std::ranges::stable_sort(fit, {}, [&](int g) { return gpus[g].available_mb; });
  fit.resize(static_cast<std::size_t>(count));
  std::ranges::sort(fit);
  return fit;
}

// Why a job that did not start waits: GPUs held for others would make up its count, then GPUs
// without a reading could, else plain lack of VRAM. (For one GPU: a held GPU it would fit on,
// then an unknown GPU it could use.)
PendingReason why_pending(const std::vector<GpuState>& gpus, const QueuedJob& job) {
  int fit_now = 0;
  int held_fit = 0;
  int unknown_could = 0;
  bool higher_priority_holds = false;
  for (const GpuState& s : gpus) {
    if (!s.known) {
      unknown_could += s.capacity_mb >= job.vram_mb ? 1 : 0;
    } else if (s.available_mb >= job.vram_mb) {
      if (s.held_by_priority) {
        ++held_fit;
        higher_priority_holds = higher_priority_holds || *s.held_by_priority > job.priority;
      } else {
        ++fit_now;
      }
    }
  }
  int count = std::max(1, job.gpus);
  if (held_fit > 0 && fit_now + held_fit >= count)
    return higher_priority_holds ? PendingReason::priority : PendingReason::head_of_line;
  if (unknown_could > 0 && fit_now + held_fit + unknown_could >= count)
    return PendingReason::gpu_unknown;
  return PendingReason::vram;
}

// The GPUs to hold for a starving job: its earlier holds that are still usable, then the known,
// unheld GPUs that could ever hold it and are closest to having room now; none when fewer than
// its count are usable (it could not start on them anyway).
std::vector<int> choose_holds(const std::vector<GpuState>& gpus, const QueuedJob& job) {
  auto usable = [&](int g) {
    const GpuState& s = gpus[g];
    return s.known && !s.held_by_priority && s.capacity_mb >= job.vram_mb;
  };
  auto count = static_cast<std::size_t>(std::max(1, job.gpus));
  std::vector<int> held;
  for (int g : job.held_gpus) {
    if (g >= 0 && g < static_cast<int>(gpus.size()) && usable(g) && held.size() < count &&
        std::ranges::find(held, g) == held.end()) {
      held.push_back(g);
    }
  }
  std::vector<int> rest;
  for (int g = 0; g < static_cast<int>(gpus.size()); ++g) {
    if (usable(g) && std::ranges::find(held, g) == held.end()) rest.push_back(g);
  }
  std::ranges::stable_sort(rest, std::greater<>{}, [&](int g) { return gpus[g].available_mb; });
  for (int g : rest) {
    if (held.size() == count) break;
    held.push_back(g);
  }
  if (held.size() < count) return {};
  std::ranges::sort(held);
  return held;
}

}  // namespace

bool queue_before(const QueuedJob& a, const QueuedJob& b) {
  if (a.priority != b.priority) return a.priority > b.priority;
  return a.id < b.id;
}

std::int64_t available_mb(const GpuView& gpu, std::int64_t buffer_mb) {
  return gpu.total_mb - gpu.committed_mb - gpu.foreign_mb - buffer_mb;
}

bool fits_ever(std::int64_t vram_mb, std::span<const GpuView> gpus, std::int64_t buffer_mb,
               int count) {
  return std::ranges::count_if(gpus, [&](const GpuView& g) {
           return g.total_mb - buffer_mb >= vram_mb;
         }) >= std::max(1, count);
}

std::vector<int> StartDecision::all_gpus() const {
  std::vector<int> out{gpu};
  out.insert(out.end(), other_gpus.begin(), other_gpus.end());
  std::ranges::sort(out);
  return out;
}

Planner::Planner(std::span<const GpuView> gpus, std::int64_t now_ms, SchedulerConfig config,
                 bool draining, std::int64_t min_queued_vram_mb)
    : now_ms_(now_ms),
      config_(config),
      draining_(draining),
      min_queued_vram_mb_(min_queued_vram_mb) {
  gpus_.reserve(gpus.size());
  index_.reserve(gpus.size());
  for (const GpuView& g : gpus) {
    gpus_.push_back({.available_mb = g.known ? available_mb(g, config.buffer_mb) : kNoFit,
                     .known = g.known,
                     .capacity_mb = g.total_mb - config.buffer_mb,
                     .held_by_priority = std::nullopt});
    index_.push_back(g.index);
    plain_vram_ = plain_vram_ && g.known;
  }
  workers_.unloading_mb.assign(gpus_.size(), 0);
  refresh_best();
}

// Changes only when a start or a hold changes a GPU: recomputed then, not for every job.
void Planner::refresh_best() {
  most_.reset();
  for (const GpuState& s : gpus_) {
    if (s.known && !s.held_by_priority && (!most_ || s.available_mb > *most_))
      most_ = s.available_mb;
  }
  best_ = std::max<std::int64_t>(0, most_.value_or(0));
}

bool Planner::settled() const {
  return draining_ || ((!most_ || *most_ < min_queued_vram_mb_) && workers_.idle.empty()) ||
         (owners_counted_ && open_owners_ == 0);
}

bool Planner::closed(std::uint32_t owner) const {
  return quota_verdict(quotas_, owner, min_queued_vram_mb_, true) == QuotaVerdict::waits;
}

void Planner::count_owners(std::vector<std::size_t> queued_by_owner) {
  if (quotas_.empty()) return;  // nobody is limited: nothing closes
  unoffered_ = std::move(queued_by_owner);
  owners_counted_ = true;
  open_owners_ = 0;
  for (std::size_t o = 0; o < unoffered_.size(); ++o) {
    if (unoffered_[o] > 0 && !closed(static_cast<std::uint32_t>(o))) ++open_owners_;
  }
}

void Planner::offered(const QueuedJob& job, bool was_open) {
  if (!owners_counted_ || job.owner >= unoffered_.size() || unoffered_[job.owner] == 0) return;
  --unoffered_[job.owner];
  // Open before, and now out of jobs or closed by this start: one owner fewer that could start.
  if (was_open && (unoffered_[job.owner] == 0 || closed(job.owner))) --open_owners_;
}

void Planner::use_workers(WorkerView workers) {
  workers_ = std::move(workers);
  workers_.unloading_mb.resize(gpus_.size(), 0);
}

std::optional<StartDecision> Planner::warm_start(const QueuedJob& job) {
  std::optional<std::size_t> best;
  std::int64_t best_extra = 0;
  int best_pos = 0;
  for (std::size_t i = 0; i < workers_.idle.size(); ++i) {
    const IdleWorker& w = workers_.idle[i];
    if (!workers_.serves(w, job)) continue;
    auto pos = std::ranges::find(index_, w.gpu) - index_.begin();
    if (pos >= std::ssize(index_)) continue;
    const GpuState& s = gpus_[static_cast<std::size_t>(pos)];
    // What the run adds to what the worker holds; a GPU held for a starving job gives nothing.
    std::int64_t extra = std::max<std::int64_t>(0, job.vram_mb - w.held_mb);
    if (!s.known || (extra > 0 && (s.held_by_priority || s.available_mb < extra))) continue;
    if (!best || w.last_used_ms > workers_.idle[*best].last_used_ms) {
      best = i;
      best_extra = extra;
      best_pos = static_cast<int>(pos);
    }
  }
  if (!best) return std::nullopt;
  GpuState& s = gpus_[static_cast<std::size_t>(best_pos)];
  StartDecision start{.job = job.id,
                      .gpu = index_[static_cast<std::size_t>(best_pos)],
                      .available_mb = s.available_mb,
                      .leftover_mb = s.available_mb - best_extra,
                      .other_gpus = {},
                      .worker = workers_.idle[*best].id};
  s.available_mb -= best_extra;
  workers_.idle.erase(workers_.idle.begin() + static_cast<std::ptrdiff_t>(*best));
  if (best_extra > 0) refresh_best();
  return start;
}

bool Planner::make_room(std::int64_t need_mb, int count, const QueuedJob& job, int only_gpu) {
  // The GPUs as eviction sees them: what is free now plus what unloading workers will free.
  std::vector<GpuView> views;
  views.reserve(gpus_.size());
  for (std::size_t g = 0; g < gpus_.size(); ++g) {
    const GpuState& s = gpus_[g];
    bool usable = s.known && !s.held_by_priority && (only_gpu < 0 || index_[g] == only_gpu);
    views.push_back({.index = index_[g],
                     .total_mb = usable ? s.available_mb + workers_.unloading_mb[g] : 0,
                     .committed_mb = 0,
                     .foreign_mb = 0,
                     .known = usable});
  }
  std::vector<WorkerSlot> idle;
  for (const IdleWorker& w : workers_.idle) {
    if (workers_.serves(w, job)) continue;  // its own idle workers serve it instead
    idle.push_back({.id = w.id,
                    .gpu = w.gpu,
                    .state = WorkerState::idle,
                    .held_mb = w.held_mb,
                    .last_used_ms = w.last_used_ms});
  }
  std::optional<std::vector<GpuEviction>> chosen =
      choose_eviction(need_mb, count, views, /*buffer_mb=*/0, idle);
  if (!chosen) return false;
  for (const GpuEviction& e : *chosen) {
    auto pos = static_cast<std::size_t>(std::ranges::find(index_, e.gpu) - index_.begin());
    for (WorkerId id : e.workers) {
      auto it = std::ranges::find(workers_.idle, id, &IdleWorker::id);
      workers_.unloading_mb[pos] += it->held_mb;
      workers_.idle.erase(it);
      evictions_.push_back(id);
    }
  }
  return true;
}

bool Planner::held(int gpu_index) const {
  for (std::size_t g = 0; g < gpus_.size(); ++g) {
    if (index_[g] == gpu_index) return gpus_[g].held_by_priority.has_value();
  }
  return false;
}

PendingReason Planner::reason_for(const QueuedJob& job) const {
  if (draining_) return PendingReason::draining;
  if (quota_verdict(quotas_, job.owner, job.vram_mb * std::max(1, job.gpus), job.preemptible) ==
      QuotaVerdict::waits) {
    return PendingReason::quota;
  }
  if (job.worker_task >= 0 && job.worker_task < std::ssize(workers_.tasks)) {
    const WorkerTaskView& t = workers_.tasks[static_cast<std::size_t>(job.worker_task)];
    if (t.resident >= t.max_workers) return PendingReason::worker_busy;
    if (t.not_before_ms > now_ms_) return PendingReason::worker_backoff;
  }
  PendingReason why = why_pending(gpus_, job);
  if (why == PendingReason::vram) {
    // Memory of workers being unloaded would make it fit: it waits for them to go.
    int fit = 0;
    for (std::size_t g = 0; g < gpus_.size(); ++g) {
      const GpuState& s = gpus_[g];
      fit +=
          s.known && !s.held_by_priority && s.available_mb + workers_.unloading_mb[g] >= job.vram_mb
              ? 1
              : 0;
    }
    if (fit >= std::max(1, job.gpus) &&
        std::ranges::any_of(workers_.unloading_mb, [](std::int64_t mb) { return mb > 0; })) {
      return PendingReason::worker_unloading;
    }
  }
  return why;
}

PendingReason Planner::worker_wait(const QueuedJob& job, const WorkerTaskView& task) {
  PendingReason why =
      task.resident < task.max_workers ? PendingReason::worker_backoff : PendingReason::worker_busy;
  // Its own idle worker lacks room for the run: it waits for VRAM there, and others on that GPU
  // may be unloaded for it.
  bool stranger = false;  // an idle worker of its task runs as another user
  for (const IdleWorker& w : workers_.idle) {
    if (w.task != job.worker_task) continue;
    if (!workers_.serves(w, job)) {
      stranger = true;
      continue;
    }
    why = PendingReason::vram;
    if (make_room(job.vram_mb - w.held_mb, 1, job, w.gpu)) {
      return PendingReason::worker_unloading;
    }
  }
  // Its idle worker cannot grow where it is, but a new one would fit elsewhere: the least
  // recently used of its idle workers makes way (else the run could wait on a full GPU while
  // another stands empty). So does the least recently used one of its task that runs as another
  // user (it cannot serve this run and holds one of its task's places), when a new worker would
  // fit once it is gone: else unloading it gains nothing.
  if (task.not_before_ms > now_ms_) return why;
  auto least_recent = [&](bool ours) {
    return std::ranges::min_element(workers_.idle, {}, [&](const IdleWorker& w) {
      bool candidate = w.task == job.worker_task && workers_.serves(w, job) == ours;
      return std::pair(!candidate, w.last_used_ms);
    });
  };
  auto own = workers_.idle.end();
  if (why == PendingReason::vram && best_fit(gpus_, job.vram_mb) >= 0) {
    own = least_recent(true);
  } else if (stranger) {
    own = least_recent(false);
    auto pos = static_cast<std::size_t>(std::ranges::find(index_, own->gpu) - index_.begin());
    bool fits_after = best_fit(gpus_, job.vram_mb) >= 0 ||
                      (pos < gpus_.size() && gpus_[pos].known && !gpus_[pos].held_by_priority &&
                       gpus_[pos].available_mb + own->held_mb >= job.vram_mb);
    if (!fits_after) own = workers_.idle.end();
  }
  if (own != workers_.idle.end()) {
    auto pos = static_cast<std::size_t>(std::ranges::find(index_, own->gpu) - index_.begin());
    workers_.unloading_mb[pos] += own->held_mb;
    evictions_.push_back(own->id);
    workers_.idle.erase(own);
    why = PendingReason::worker_unloading;
  }
  return why;
}

std::optional<StartDecision> Planner::fit(const QueuedJob& job) {
  // Fast path for the long tail of a queue that does not fit anywhere: no GPU scan per job.
  if (!most_ || *most_ < job.vram_mb) return std::nullopt;
  if (job.gpus <= 1) {
    int g = best_fit(gpus_, job.vram_mb);
    if (g < 0) return std::nullopt;
    std::int64_t before = gpus_[g].available_mb;
    gpus_[g].available_mb -= job.vram_mb;
    refresh_best();
    return StartDecision{.job = job.id,
                         .gpu = index_[g],
                         .available_mb = before,
                         .leftover_mb = gpus_[g].available_mb};
  }
  std::vector<int> fits = best_fits(gpus_, job.vram_mb, job.gpus);
  if (fits.empty()) return std::nullopt;
  StartDecision start{.job = job.id,
                      .gpu = index_[fits[0]],
                      .available_mb = gpus_[fits[0]].available_mb,
                      .leftover_mb = gpus_[fits[0]].available_mb - job.vram_mb};
  for (int g : fits) {
    gpus_[g].available_mb -= job.vram_mb;
    if (g != fits[0]) start.other_gpus.push_back(index_[g]);
  }
  refresh_best();
  return start;
}

PendingDecision Planner::wait(const QueuedJob& job, bool worker_task) {
  PendingDecision pending{
      .job = job.id,
      .position = position_++,
      .reason = plain_vram_ && job.gpus <= 1 ? PendingReason::vram : why_pending(gpus_, job),
      .held_gpus = {},
      .best_available_mb = best_};
  // Idle workers hold memory it could use: unload the fewest, least recently used, that make it
  // fit (none when even all of them would not).
  if (!workers_.idle.empty() ||
      std::ranges::any_of(workers_.unloading_mb, [](auto mb) { return mb > 0; })) {
    // A run whose task has an idle worker: room for what it adds there comes first (no second
    // load of the model), then room for a new worker anywhere.
    bool waits = false;
    for (std::size_t i = 0; i < workers_.idle.size() && worker_task && !waits; ++i) {
      const IdleWorker& w = workers_.idle[i];
      if (workers_.serves(w, job)) {
        waits = make_room(job.vram_mb - w.held_mb, 1, job, w.gpu);
      }
    }
    if (waits || make_room(job.vram_mb, std::max(1, job.gpus), job, -1)) {
      pending.reason = PendingReason::worker_unloading;
    }
  }
  if (now_ms_ - job.queued_at_ms >= config_.backfill_bound_ms) {
    // Starving: hold its GPUs so that nothing behind this job takes their room.
    std::vector<int> hold = choose_holds(gpus_, job);
    for (int g : hold)
      gpus_[g].held_by_priority = job.priority;
    if (!hold.empty()) {
      plain_vram_ = false;
      pending.held_gpus = std::move(hold);
      refresh_best();
    }
  }
  return pending;
}

Planner::Decision Planner::offer(const QueuedJob& job) {
  bool was_open = owners_counted_ && !closed(job.owner);
  Decision d = decide(job);
  offered(job, was_open);
  return d;
}

Planner::Decision Planner::decide(const QueuedJob& job) {
  auto waiting = [&](PendingReason why) {
    return Decision{.start = std::nullopt,
                    .pending = PendingDecision{.job = job.id,
                                               .position = position_++,
                                               .reason = why,
                                               .held_gpus = {},
                                               .best_available_mb = best_}};
  };
  if (draining_) return waiting(PendingReason::draining);
  std::int64_t need_mb = job.vram_mb * std::max(1, job.gpus);
  QuotaVerdict quota = quota_verdict(quotas_, job.owner, need_mb, job.preemptible);
  if (quota == QuotaVerdict::waits) return waiting(PendingReason::quota);
  auto started = [&](std::optional<StartDecision> s) {
    s->borrowed = quota == QuotaVerdict::borrows;
    quota_take(quotas_, job.owner, need_mb);
    return Decision{.start = std::move(s), .pending = std::nullopt};
  };
  // A warm-worker task's run: an idle worker of its task, else a new worker if its task may
  // have one more now, else it waits for one.
  WorkerTaskView* task = nullptr;
  if (job.worker_task >= 0 && job.worker_task < std::ssize(workers_.tasks)) {
    task = &workers_.tasks[static_cast<std::size_t>(job.worker_task)];
    if (std::optional<StartDecision> warm = warm_start(job)) return started(std::move(warm));
    if (task->resident >= task->max_workers || task->not_before_ms > now_ms_) {
      return waiting(worker_wait(job, *task));
    }
  }
  if (std::optional<StartDecision> start = fit(job)) {
    if (task != nullptr) ++task->resident;
    return started(std::move(start));
  }
  return {.start = std::nullopt, .pending = wait(job, task != nullptr)};
}

Decisions plan(const Snapshot& snap) {
  Planner planner(snap.gpus, snap.now_ms, snap.config, snap.draining);
  if (!snap.workers.tasks.empty()) planner.use_workers(snap.workers);
  if (!snap.quotas.empty()) planner.use_quotas(snap.quotas);
  Decisions out;
  out.pending.reserve(snap.queue.size());
  for (const QueuedJob& job : snap.queue) {
    Planner::Decision d = planner.offer(job);
    if (d.start) out.starts.push_back(*d.start);
    if (d.pending) out.pending.push_back(*d.pending);
  }
  out.evictions = planner.evictions();
  return out;
}

}  // namespace vramq::core
