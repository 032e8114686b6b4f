#pragma once
// Queued jobs that may not start yet, kept out of the scheduling queue so that no pass ever
// offers them (and none holds a GPU for them): jobs waiting for other jobs to end (`after`, like
// Slurm's --dependency) and retries waiting out their delay. Each carries its packed record
// (core::pack_job), as JobQueue entries do. When the jobs it waits for end, or its time comes, a
// parked job is released into the queue; when an `ok` dependency ends any other way than
// `succeeded`, it is doomed (ended `cancelled`, reason dependency_failed).
// Pure data structure, no I/O, no clock (times are passed in). Loop only.

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/job.hpp"

namespace vramq::core {

class ParkedJobs {
 public:
  // `ok`: jobs that must end `succeeded`; `any`: jobs that must end, however. Ids already ended
  // must not be passed (the caller settles them first). `until_ms` > 0: not before then.
  // `owner`: its owner as a small number (QueuedJob::owner), counted by count_of().
  void park(JobId id, std::string record, PendingReason why, std::vector<JobId> ok,
            std::vector<JobId> any, std::int64_t until_ms = 0, std::uint32_t owner = 0);
  bool contains(JobId id) const { return jobs_.contains(id); }
  std::size_t size() const { return jobs_.size(); }
  // How many parked jobs have this owner.
  std::size_t count_of(std::uint32_t owner) const {
    auto it = owner_counts_.find(owner);
    return it == owner_counts_.end() ? 0 : it->second;
  }
  const std::string* record(JobId id) const;
  PendingReason reason(JobId id) const;
  // Removes a parked job (cancelled, or released by the caller); false if it was not parked.
  bool erase(JobId id);

  struct Released {
    JobId id = 0;
    std::string record;
  };
  struct Doomed {
    JobId id = 0;
    JobId because = 0;  // the `ok` dependency that did not succeed
    std::string record;
  };
  struct Outcome {
    std::vector<Released> released;  // every dependency met: to the queue (already removed here)
    std::vector<Doomed> doomed;      // a dependency can never be met (already removed here)
  };
  // Job `ended` reached a terminal state.
  Outcome on_end(JobId ended, bool succeeded);
  // Jobs whose delay is over at `now_ms` (removed here), in id order.
  std::vector<Released> due(std::int64_t now_ms);
  // When the next delay is over, if any job waits for one.
  std::optional<std::int64_t> next_due_ms() const;
  // Parked job ids below `before` (all when before <= 0), highest first, at most `limit`.
  std::vector<JobId> newest_before(JobId before, std::size_t limit) const;

 private:
  struct Entry {
    std::string record;
    PendingReason why = PendingReason::dependency;
    std::set<JobId> ok;   // unmet `ok` dependencies
    std::set<JobId> any;  // unmet `any` dependencies
    std::int64_t until_ms = 0;
    std::uint32_t owner = 0;
  };
  std::map<JobId, Entry> jobs_;
  std::map<std::uint32_t, std::size_t> owner_counts_;  // owners with parked jobs
  std::multimap<JobId, JobId> dependents_;             // dependency -> parked job waiting on it
  std::multimap<std::int64_t, JobId> by_until_ms_;     // delayed jobs by when they are due
};

}  // namespace vramq::core
