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

void Orchestrator::start_failed(core::JobId id, std::string why, int errno_value,
                                std::optional<int> ran_attempt) {
  running_.erase(id);
  if (!core::is_host_error(errno_value)) {
    finish(id, core::JobState::failed, core::EndReason::spawn_failed, std::move(why), {},
           ran_attempt);
    return;
  }
  auto it = active_.find(id);
  if (it == active_.end()) return;
  core::Job& job = it->second;
  job.not_before_ms = waiting_.host_failed_until_ms();
  spdlog::warn(
      "job {}: could not start for a reason of this host: {}; queued again, next try in "
      "{} s",
      id, why, (job.not_before_ms - now_ms() + 999) / 1000);
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
  store_->save(job, [this, id, ran_attempt](const core::Result<void>& r) {
    if (r && ran_attempt) runs_->executor().release(id, *ran_attempt);
  });
  waiting_.park_unstarted(job);
  active_.erase(it);
  schedule_soon();
}

}  // namespace vramq::service
