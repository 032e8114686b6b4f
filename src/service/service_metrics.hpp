#pragma once
// What the orchestrator counts for GET /metrics (issue 13), since the server started: jobs
// submitted and ended, how long they waited and ran, VRAM enforcement, retries after a CUDA
// out-of-memory error, warm workers loaded and evicted. Label values are bounded: task names
// come from the catalog ("" for raw commands), states and reasons from their enums, owners from
// the owners file. Loop only.

#include <cstdint>
#include <map>
#include <string>
#include <tuple>

#include "core/histogram.hpp"
#include "core/job.hpp"

namespace vramq::service {

struct ServiceMetrics {
  std::map<std::string, std::uint64_t, std::less<>> submitted;  // by task
  // by (task, state, reason): jobs that reached a terminal state
  std::map<std::tuple<std::string, std::string, std::string>, std::uint64_t> ended;
  std::map<std::string, core::Histogram, std::less<>> wait_s;      // by task: queued -> started
  std::map<std::string, core::Histogram, std::less<>> run_s;       // by task: started -> ended
  std::map<std::string, std::uint64_t, std::less<>> enforcements;  // by action: kill, warn
  std::uint64_t gpu_oom_retries = 0;
  std::map<std::string, std::uint64_t> preemptions;  // runs stopped to give VRAM back, by owner
  std::uint64_t recheck_failures = 0;  // starts the pass chose that failed the VRAM re-check
  std::map<std::string, std::uint64_t, std::less<>> worker_loads;      // by task
  std::map<std::string, std::uint64_t, std::less<>> worker_evictions;  // by task

  // A run of `job` started: how long it waited since it was queued (or submitted).
  void observe_wait(const core::Job& job);
  void observe_run(const std::string& task, double seconds);
};

}  // namespace vramq::service
