#pragma once
// Jobs that are queued but may not start yet (core::ParkedJobs): jobs that wait for other jobs
// to end (`after`), retries that wait out their delay, and starts that failed for a reason of
// the host's, waiting out their back-off. They never enter the scheduling queue until released,
// so no pass offers them and none holds a GPU for them. A job that can no longer be waited for
// ends dependency_failed. What it needs of the orchestrator comes as callbacks. Loop only.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/job.hpp"
#include "core/parked_jobs.hpp"
#include "service/service_clock.hpp"
#include "store/store.hpp"

namespace vramq::service {

class WaitingJobs {
 public:
  struct Deps {
    boost::asio::io_context& ioc;
    store::Store& store;
    std::function<bool(core::JobId)> ended;  // terminal or unknown: no longer live
    // An end not yet durable (its state), else nullopt.
    std::function<std::optional<core::JobState>(core::JobId)> settling;
    std::function<void(const core::Job&)> enqueue;  // into the scheduling queue
    // End a parked job dependency_failed, for `why`.
    std::function<void(core::JobId id, std::string why)> fail;
    std::function<void(const core::Job&)> publish;
    // An owner's number (OwnerBook): parked jobs are counted by owner.
    std::function<std::uint32_t(const std::string&)> owner_id;
  };
  explicit WaitingJobs(Deps deps) : d_(std::move(deps)), timer_(d_.ioc) {}

  const core::ParkedJobs& parked() const { return parked_; }
  void erase(core::JobId id) { parked_.erase(id); }
  void stop() { timer_.cancel(); }

  // When a retry of `job` may start (0: at once): retry_delay_s doubled per attempt, a day at
  // most.
  static std::int64_t retry_at_ms(const core::Job& job, std::int64_t now_ms);
  // A retry that waits out its delay (job.not_before_ms).
  void park_delayed(const core::Job& job);
  // A start that failed for a host reason waits out a back-off that grows while such failures
  // go on (1 s doubling to a minute): when it may start again, and the job parked until then.
  std::int64_t host_failed_until_ms();
  void park_unstarted(const core::Job& job);
  void host_ok() { host_failures_ = 0; }  // the host could start a run again
  // Job `id` ended: jobs waiting for it are released into the queue, or end dependency_failed.
  void on_end(core::JobId id, bool succeeded);

  // Where a job's dependencies stand now: `ok` and `any` still to end, the first `ok` one that
  // ended without succeeding, and ids that name no job. Reads the store for jobs not in memory
  // and returns only once every answer holds at the moment it resumes (no suspension after).
  struct Dependencies {
    std::vector<core::JobId> ok;
    std::vector<core::JobId> any;
    std::optional<core::JobId> failed;
    std::vector<core::JobId> unknown;
  };
  boost::asio::awaitable<core::Result<Dependencies>> settle(std::vector<core::JobId> ok,
                                                            std::vector<core::JobId> any);
  // After a job with dependencies is stored: park it, queue it, or end it dependency_failed.
  void place(const core::Job& job, const Dependencies& deps);
  bool has_live_dependency(const core::Job& job) const;
  // Recovery (blocking reads) of one queued job that waits for others or a retry delay: parks
  // it, or ends it (its new state returned, stored) when a dependency can no longer be met.
  // Else queues it.
  std::optional<core::JobState> recover(core::Job& job,
                                        const std::map<core::JobId, core::JobState>& recovered);
  void arm();  // the timer for the next retry delay or back-off that ends

 private:
  void release(core::ParkedJobs::Released r);
  void fail_parked(core::JobId id, std::string record, core::JobId because);

  Deps d_;
  core::ParkedJobs parked_;
  ServiceTimer timer_;     // fires when the next retry delay is over
  int host_failures_ = 0;  // starts failed for host reasons in a row
};

}  // namespace vramq::service
