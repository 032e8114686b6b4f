#pragma once
// Admission and placement as a pure function, after Nomad's scheduler: plan(snapshot) reads an
// immutable view of the queue and the GPUs and returns decisions; it never mutates anything.
// Steps: feasibility (which GPUs can hold the job now) -> rank (best fit: least VRAM left over)
// -> plan (priority first, FIFO within a priority, bounded backfill). Every job that does not
// start gets a PendingReason.

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "core/job.hpp"
#include "core/owner_quota.hpp"

namespace vramq::core {

struct Config;

struct GpuView {
  int index = 0;
  std::int64_t total_mb = 0;
  // Sum over vramq's jobs on this GPU of max(reservation, measured use).
  std::int64_t committed_mb = 0;
  // In use by processes vramq did not start (and driver memory no process accounts for).
  std::int64_t foreign_mb = 0;
  // False when the GPU has no current reading: nothing is admitted to it until it has one.
  bool known = true;
};

struct QueuedJob {
  JobId id = 0;
  int priority = 0;
  std::int64_t vram_mb = 0;  // on each of its GPUs
  std::int64_t queued_at_ms = 0;
  // GPUs held for this job by an earlier plan because it waited past the backfill bound; sticky
  // so that the held GPUs drain instead of the hold wandering between GPUs (which could starve).
  std::vector<int> held_gpus;
  int gpus = 1;  // how many GPUs it needs at once, each with vram_mb free
  // A warm-worker task's job: its index in WorkerView::tasks (-1: a process of its own).
  int worker_task = -1;
  // Its owner, as a small number (service::OwnerBook names them; 0: no owner).
  std::uint32_t owner = 0;
  bool preemptible = false;  // may run above its owner's guarantee (borrowed), and be reclaimed
};

// Warm workers as a pass sees them (issue 12, docs/workers.md). A resident worker's memory is in
// its GPU's committed_mb already (idle: what it holds; busy: as any running job); an idle one
// can serve a run of its task, needing only what the run adds to what it holds, or be unloaded
// to make room for another job.
struct WorkerTaskView {
  int max_workers = 1;
  int resident = 0;                // starting, idle or busy (not those being unloaded)
  std::int64_t not_before_ms = 0;  // its workers keep crashing: no new one before this
};
struct IdleWorker {
  WorkerId id = 0;
  int task = 0;  // index in WorkerView::tasks
  int gpu = 0;
  std::int64_t uid = -1;          // the user it runs as (-1: vramq's own)
  std::int64_t held_mb = 0;       // in the ledger now
  std::int64_t last_used_ms = 0;  // its last run's end (or when it became ready)
};
struct WorkerView {
  std::vector<WorkerTaskView> tasks;
  std::vector<IdleWorker> idle;
  // Per GPU (index): memory of workers being unloaded, free once their processes are gone.
  std::vector<std::int64_t> unloading_mb;
  // Who each owner's jobs run as, by owner number (QueuedJob::owner; past the end: default_uid):
  // a worker serves only jobs that run as its user (a job must never see another user's memory).
  std::vector<std::int64_t> owner_uids;
  std::int64_t default_uid = -1;
  bool serves(const IdleWorker& w, const QueuedJob& job) const {
    if (w.task != job.worker_task) return false;
    return w.uid == (job.owner < owner_uids.size() ? owner_uids[job.owner] : default_uid);
  }
};

struct SchedulerConfig {
  std::int64_t buffer_mb = 1024;             // kept free on every GPU (the seed's VRAM_BUFFER)
  std::int64_t backfill_bound_ms = 300'000;  // a job waiting longer is never passed
};
// The scheduler's settings from the server's configuration (core/config.cpp).
SchedulerConfig scheduler_config(const Config& config);

struct Snapshot {
  // Precondition: in queue order (queue_before), i.e. priority desc, then id asc.
  std::span<const QueuedJob> queue;
  // Precondition: gpus[i].index == i (held_gpu and StartDecision::gpu are these indexes).
  std::span<const GpuView> gpus;
  std::int64_t now_ms = 0;
  SchedulerConfig config;
  bool draining = false;
  WorkerView workers;  // warm workers (none: every job is a process of its own)
  QuotaView quotas;    // owners' quotas and limits (none: nobody is limited)
};

struct StartDecision {
  JobId job = 0;
  int gpu = 0;                    // its (first) GPU
  std::int64_t available_mb = 0;  // on that GPU before this start
  std::int64_t leftover_mb = 0;   // rank score: the best fit leaves the least
  std::vector<int> other_gpus;    // a multi-GPU job's further GPUs, in index order
  // A worker task's run: the idle worker it goes to (0: a new worker, or its own process).
  WorkerId worker = 0;
  bool borrowed = false;  // above its owner's guarantee (core/owner_quota.hpp)
  std::vector<int> all_gpus() const;
  bool operator==(const StartDecision&) const = default;
};

struct PendingDecision {
  JobId job = 0;
  int position = 0;  // 0 = next to start among the jobs still queued
  PendingReason reason = PendingReason::none;
  std::vector<int> held_gpus;          // GPUs now held for this job (see QueuedJob::held_gpus)
  std::int64_t best_available_mb = 0;  // most VRAM free on any usable GPU, for explanations
  bool operator==(const PendingDecision&) const = default;
};

struct Decisions {
  std::vector<StartDecision> starts;     // in the order they should be applied
  std::vector<PendingDecision> pending;  // every other job, in queue order
  std::vector<WorkerId> evictions;       // idle warm workers to unload (Planner::evictions)
};

Decisions plan(const Snapshot& snapshot);

// One scheduling pass, a job at a time, for a caller that keeps its queue in its own ordered
// index (the orchestrator) and should not copy it per pass. Offering every job in queue order
// gives exactly plan()'s decisions. Once settled() is true no job not yet offered can start, so
// the caller may stop: such jobs keep their previous hold, and reason_for() is their reason.
class Planner {
 public:
  // `min_queued_vram_mb`: the smallest reservation in the queue, a lower bound for every job
  // not yet offered (0 when unknown; then the pass only settles when nothing at all fits).
  Planner(std::span<const GpuView> gpus, std::int64_t now_ms, SchedulerConfig config, bool draining,
          std::int64_t min_queued_vram_mb = 0);

  // Decides the next job in queue order: a start (nullopt pending) or a pending decision.
  struct Decision {
    std::optional<StartDecision> start;
    std::optional<PendingDecision> pending;
  };
  Decision offer(const QueuedJob& job);

  // Warm workers (before the first offer): idle ones serve their task's runs and may be unloaded
  // for a job that does not fit otherwise; new workers only up to their task's max_workers.
  void use_workers(WorkerView workers);
  bool has_idle_workers() const { return !workers_.idle.empty(); }
  // Owners' quotas and limits (before the first offer; none: nobody is limited).
  void use_quotas(QuotaView quotas) { quotas_ = std::move(quotas); }
  // How many queued jobs each owner has (by owner number), given by a caller that offers jobs
  // in queue order: the pass is settled once every owner with jobs not yet offered is closed (at
  // max_running, or with no room under limit_mb for the smallest queued job), so that a queue
  // whose owners are all at their limits is not walked job by job.
  void count_owners(std::vector<std::size_t> queued_by_owner);
  // Whether an owner's limits let none of its jobs start for the rest of this pass (at
  // max_running, or no room under limit_mb for the smallest queued reservation): it only ever
  // becomes true during a pass. Always false without quotas.
  bool closed(std::uint32_t owner) const;
  // The idle workers this pass chose to unload (in the order chosen): each left the idle pool
  // at once; its memory stays counted until its processes are gone.
  const std::vector<WorkerId>& evictions() const { return evictions_; }

  // True when no further job can start: draining, or no known, unheld GPU has the smallest
  // queued reservation free and no idle worker could serve or make room. Holds of later
  // starving jobs cannot matter then (they only keep jobs off a GPU none of them fits on).
  bool settled() const;

  // The reason a job not offered in this pass waits (valid once settled()).
  PendingReason reason_for(const QueuedJob& job) const;

  // Most VRAM free on any known, unheld GPU now (0 when none), for explanations.
  std::int64_t best_available_mb() const { return best_; }
  // The same, but nullopt when no GPU is known and unheld, and possibly negative: no job with a
  // larger reservation can start in the rest of this pass (it only ever decreases).
  std::optional<std::int64_t> most_available_mb() const { return most_; }
  // Whether the GPU with this index was held for a starving job during the pass.
  bool held(int gpu_index) const;
  // Jobs queued at or before this time have waited past the backfill bound (they may hold).
  std::int64_t starving_cutoff_ms() const { return now_ms_ - config_.backfill_bound_ms; }

  struct GpuState {
    std::int64_t available_mb = 0;
    bool known = true;
    std::int64_t capacity_mb = 0;         // total - buffer: what an idle GPU could give
    std::optional<int> held_by_priority;  // set once a starving job holds it
  };

 private:
  void refresh_best();
  Decision decide(const QueuedJob& job);  // offer(), without the owners' count
  // An idle worker of the job's task that can take its run now (the most recently used).
  std::optional<StartDecision> warm_start(const QueuedJob& job);
  // Unloads idle workers (not those that could serve `job`) on GPUs allowed by `only_gpu` (-1: any)
  // so that `count` GPUs get `need_mb`; true when the job now waits for memory being released
  // (chosen now, or earlier and still on its way).
  bool make_room(std::int64_t need_mb, int count, const QueuedJob& job, int only_gpu);
  // A worker task's run whose task may start no worker now (all it may have are resident, or it
  // is backing off): why it waits, having unloaded what could make way for it.
  PendingReason worker_wait(const QueuedJob& job, const WorkerTaskView& task);
  // The start that fits now, on the best-fitting GPU(s), taken from the ledger.
  std::optional<StartDecision> fit(const QueuedJob& job);
  // It waits: for VRAM, or for idle workers unloaded to make room for it; a starving job holds
  // its GPUs.
  PendingDecision wait(const QueuedJob& job, bool worker_task);

  std::vector<GpuState> gpus_;
  std::vector<int> index_;  // GpuView::index of gpus_[i]
  std::int64_t now_ms_ = 0;
  SchedulerConfig config_;
  bool draining_ = false;
  std::int64_t min_queued_vram_mb_ = 0;
  int position_ = 0;
  std::int64_t best_ = 0;             // max(0, most available on a known, unheld GPU)
  std::optional<std::int64_t> most_;  // most available on a known, unheld GPU, if any
  // No GPU is unknown or held: a job that does not fit waits for plain lack of VRAM.
  bool plain_vram_ = true;
  WorkerView workers_;
  std::vector<WorkerId> evictions_;
  QuotaView quotas_;
  // count_owners(): jobs not yet offered, by owner, and how many owners with such jobs are open.
  std::vector<std::size_t> unoffered_;
  std::size_t open_owners_ = 0;
  bool owners_counted_ = false;
  void offered(const QueuedJob& job, bool was_open);
};

// Queue order: priority desc, then id asc (FIFO: ids increase with submission).
bool queue_before(const QueuedJob& a, const QueuedJob& b);

// What admission may still give on a GPU: total - committed - foreign - buffer (may be < 0).
std::int64_t available_mb(const GpuView& gpu, std::int64_t buffer_mb);

// Whether `count` GPUs could ever each hold `vram_mb` (empty and free of foreign use). A job for
// which this is false is refused at submit (422), never queued.
bool fits_ever(std::int64_t vram_mb, std::span<const GpuView> gpus, std::int64_t buffer_mb,
               int count = 1);

}  // namespace vramq::core
