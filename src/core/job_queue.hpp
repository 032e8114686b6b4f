#pragma once
// The queue of jobs waiting to start, ordered as the scheduler reads it: priority desc; within
// a priority, owners by fair share (core/fair_share.hpp: lowest decayed use over weight first,
// equal shares interleaved by id), FIFO within an owner; with one owner or none, plain FIFO.
// The backfill bound is about being passed: a job waiting past it holds GPUs against every job
// behind it in this order (a job of an owner that used more still waits behind lighter owners'
// jobs, as a low priority waits behind a high one). Each job's place and pending reason come
// from the last pass. A scheduling pass walks it in order
// through a Planner and stops as soon as no later job can start, so a pass over a long queue
// that is stuck behind a full GPU costs the few jobs at its head, not the whole queue (a submit
// storm triggers a pass per batch). Positions come from an order-statistics index: O(log n) per
// owner with queued jobs.
// A long queue is not even walked job by job: a pass visits only the jobs that could start (their
// reservation fits the most VRAM free on a GPU, found through an index by reservation class and
// owner) and the jobs waiting past the backfill bound (which may hold a GPU), merged in queue
// order; every other job would only get a pending reason, which place() derives from the settled
// planner. An owner at its limits is passed over whole, however many jobs it has queued.
// Each entry also carries the queued job itself as an opaque record (core::pack_job): the queue
// is the one owner of waiting jobs, and a waiting job costs one compact allocation.
// Pure data structure, no I/O. Not thread-safe: the orchestrator's loop owns it.

#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/job.hpp"
#include "core/scheduler.hpp"

namespace vramq::core {

class JobQueue {
 public:
  // Queues shorter than `linear_below` are walked job by job (cheaper when most jobs are visited
  // anyway); longer ones through the indexes. Both decide the same (a unit test checks).
  explicit JobQueue(std::size_t linear_below = 2048);
  ~JobQueue();
  JobQueue(JobQueue&&) noexcept;
  JobQueue& operator=(JobQueue&&) noexcept;

  struct Index;  // the indexes (job_queue.cpp)

  // Adds a job with its record (held_gpus is ignored: holds come from passes). False if the id is
  // queued already.
  bool push(const QueuedJob& job, std::string record);
  // Removes a job; false if it was not queued.
  bool erase(JobId id);
  bool contains(JobId id) const;
  std::size_t size() const;
  // How many queued jobs have this owner (QueuedJob::owner).
  std::size_t count_of(std::uint32_t owner) const;
  bool empty() const { return size() == 0; }

  // The record pushed with a queued job; nullptr if it is not queued. Valid until it is erased.
  const std::string* record(JobId id) const;
  // The queued job as pushed (holds from the last pass); nullptr if it is not queued. Valid
  // until it is erased or the next pass.
  const QueuedJob* job(JobId id) const;

  // Ids of queued jobs below `before` (all when before <= 0), highest first, at most `limit`.
  std::vector<JobId> newest_before(JobId before, std::size_t limit) const;

  // The first `limit` jobs in queue order (the next to start first).
  std::vector<JobId> head(std::size_t limit) const;
  // Each owner's first job in queue order (FIFO within an owner: the next of its jobs to start),
  // in queue order.
  std::vector<JobId> owner_heads() const;

  // The smallest reservation in the queue (0 when empty): a lower bound for any job in it.
  std::int64_t min_vram_mb() const;

  // Runs one scheduling pass: offers jobs in queue order to `planner` until it has settled,
  // records each pending job's reason and hold, and keeps the planner to explain the jobs it did
  // not reach. Returns the starts, in order; the jobs stay queued until erase()d.
  // The planner is told how many jobs each owner has queued (Planner::count_owners); jobs of an
  // owner it finds closed (at its limits) are not offered. `shares` (by owner number; missing:
  // 0) order the owners within a priority (core/fair_share.hpp) from this pass until the next.
  std::vector<StartDecision> pass(Planner planner, std::vector<double> shares = {});
  // What a pass does to the order before it walks it (jobs queued at or before the cutoff are
  // starving; owners ordered by `shares`), without the pass: a snapshot taken next shows the
  // order the pass will take.
  void reorder(std::int64_t starving_cutoff_ms, std::vector<double> shares);

  struct Place {
    int position = 0;  // 0 = next to start
    PendingReason reason = PendingReason::none;
  };
  // Where a queued job stands after the last pass (nullopt if not queued).
  std::optional<Place> place(JobId id) const;
  // Whether the last pass offered this job to its planner; if not, its reason came from the
  // settled planner and its holds are those of an earlier pass.
  bool reached(JobId id) const;
  // The GPUs held for a queued job (empty if none or not queued).
  std::vector<int> held_gpus(JobId id) const;
  // Whether the last pass held this GPU for a starving job (holds last until the next pass).
  bool held(int gpu_index) const { return last_ && last_->held(gpu_index); }
  // The job the last pass held this GPU for (0: none).
  JobId holder(int gpu_index) const {
    return gpu_index >= 0 && static_cast<std::size_t>(gpu_index) < holders_.size()
               ? holders_[static_cast<std::size_t>(gpu_index)]
               : 0;
  }
  // The idle warm workers the last pass chose to unload.
  std::vector<WorkerId> evictions() const {
    return last_ ? last_->evictions() : std::vector<WorkerId>{};
  }
  // Overrides a job's reason until the next pass (a start that failed its re-check).
  void set_reason(JobId id, PendingReason reason);

  // The queue as plan() takes it, in order, holds included; with `probe`, a job not queued
  // placed where it would stand (a dry run).
  std::vector<QueuedJob> snapshot(const QueuedJob* probe = nullptr) const;

 private:
  std::unique_ptr<Index> index_;
  std::map<std::int64_t, std::size_t> vram_counts_;  // reservation -> jobs with it
  std::vector<std::size_t> owner_counts_;            // by QueuedJob::owner
  std::optional<Planner> last_;                      // the last pass, settled
  std::vector<double> shares_;                       // the last pass's, by owner number
  std::vector<JobId> holders_;                       // the last pass's holds, by GPU index
  std::uint64_t passes_ = 0;
  std::size_t linear_below_ = 2048;
  // Jobs queued at or before this are marked starving (it only moves forward).
  std::int64_t starving_cutoff_ms_ = std::numeric_limits<std::int64_t>::min();

  void mark_starving(std::int64_t cutoff_ms);
};

}  // namespace vramq::core
