#pragma once
// The queue of jobs waiting to start, ordered as the scheduler reads it (priority desc, then id
// asc), with each job's place and pending reason. A scheduling pass walks it in order through a
// Planner and stops as soon as no later job can start, so a pass over a long queue that is stuck
// behind a full GPU costs the few jobs at its head, not the whole queue (a submit storm triggers
// a pass per batch). Positions come from an order-statistics index: O(log n) per lookup.
// Each entry also carries the queued job itself as an opaque record (core::pack_job): the queue
// is the one owner of waiting jobs, and a waiting job costs one compact allocation.
// Pure data structure, no I/O. Not thread-safe: the orchestrator's loop owns it.

#include <cstddef>
#include <cstdint>
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
  JobQueue();
  ~JobQueue();
  JobQueue(JobQueue&&) noexcept;
  JobQueue& operator=(JobQueue&&) noexcept;

  // Adds a job with its record (held_gpu is ignored: holds come from passes). False if the id is
  // queued already.
  bool push(const QueuedJob& job, std::string record);
  // Removes a job; false if it was not queued.
  bool erase(JobId id);
  bool contains(JobId id) const;
  std::size_t size() const;
  bool empty() const { return size() == 0; }

  // The record pushed with a queued job; nullptr if it is not queued. Valid until it is erased.
  const std::string* record(JobId id) const;

  // Ids of queued jobs below `before` (all when before <= 0), highest first, at most `limit`.
  std::vector<JobId> newest_before(JobId before, std::size_t limit) const;

  // The smallest reservation in the queue (0 when empty): a lower bound for any job in it.
  std::int64_t min_vram_mb() const;

  // Runs one scheduling pass: offers jobs in queue order to `planner` until it has settled,
  // records each pending job's reason and hold, and keeps the planner to explain the jobs it did
  // not reach. Returns the starts, in order; the jobs stay queued until erase()d.
  std::vector<StartDecision> pass(Planner planner);

  struct Place {
    int position = 0;  // 0 = next to start
    PendingReason reason = PendingReason::none;
  };
  // Where a queued job stands after the last pass (nullopt if not queued).
  std::optional<Place> place(JobId id) const;
  // Overrides a job's reason until the next pass (a start that failed its re-check).
  void set_reason(JobId id, PendingReason reason);

  // The queue as plan() takes it, in order, holds included.
  std::vector<QueuedJob> snapshot() const;

 private:
  struct Index;
  std::unique_ptr<Index> index_;
  std::map<std::int64_t, std::size_t> vram_counts_;  // reservation -> jobs with it
  std::optional<Planner> last_;                      // the last pass, settled
  std::uint64_t passes_ = 0;
};

}  // namespace vramq::core
