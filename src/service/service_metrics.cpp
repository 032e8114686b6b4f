#include "service/service_metrics.hpp"

#include <algorithm>

namespace vramq::service {
namespace {

// From a start at once to a day in the queue; from a quick script to a six-hour training run.
core::Histogram wait_buckets() {
  return core::Histogram({0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600, 14400, 86400});
}
core::Histogram run_buckets() {
  return core::Histogram({0.1, 1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600});
}

}  // namespace

void ServiceMetrics::observe_wait(const core::Job& job) {
  std::int64_t since = std::max(job.queued_at_ms, job.submitted_at_ms);
  double seconds =
      static_cast<double>(std::max<std::int64_t>(0, job.started_at_ms - since)) / 1000.0;
  wait_s.try_emplace(job.spec.task, wait_buckets()).first->second.observe(seconds);
}

void ServiceMetrics::observe_run(const std::string& task, double seconds) {
  run_s.try_emplace(task, run_buckets()).first->second.observe(seconds);
}

}  // namespace vramq::service
