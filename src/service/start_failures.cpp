// Starts that fail for a reason of the host's, not the job's: the data directory's disk is full,
// or the server or its supervisor ran out of descriptors, processes or memory. Failing such a job
// `spawn_failed` for good would turn a passing fault into lost work; it goes back to the queue,
// its attempt not used up, and the next start waits out a back-off that grows while the host
// keeps failing (1 s doubling to a minute), so that a full disk does not make the scheduler spin.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/job_record.hpp"
#include "core/run_outcome.hpp"
#include "service/orchestrator.hpp"

namespace vramq::service {

void Orchestrator::requeue_unstarted(core::JobId id, std::string why,
                                     std::optional<int> ran_attempt) {
  auto it = active_.find(id);
  if (it == active_.end()) return;
  core::Job& job = it->second;
  ++host_failures_;
  std::int64_t delay_ms = core::host_failure_backoff_ms(host_failures_);
  spdlog::warn(
      "job {}: could not start for a reason of this host: {}; queued again, next try in "
      "{} s",
      id, why, (delay_ms + 999) / 1000);
  job.state = core::JobState::queued;
  job.gpu.reset();
  job.gpus.clear();
  job.pid = 0;
  job.pid_start_ticks = 0;
  job.started_at_ms = 0;
  // One line however often it happens: a disk full for hours must not grow the job's record.
  std::string warning =
      fmt::format("a start failed for a reason of the host ({}); queued again", why);
  if (job.warnings.empty() || job.warnings.back() != warning) job.warnings.push_back(warning);
  job.not_before_ms = now_ms() + delay_ms;
  store_->save(job, [this, id, ran_attempt](const core::Result<void>& r) {
    if (r && ran_attempt) executor_->release(id, *ran_attempt);
  });
  waiting_.park_unstarted(job);
  active_.erase(it);
}

}  // namespace vramq::service
