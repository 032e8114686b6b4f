#include "core/run_outcome.hpp"

#include "core/vram_guard.hpp"

#include <errno.h>
#include <string.h>

#include <fmt/format.h>

#include <algorithm>

namespace vramq::core {

namespace {

std::string signal_name(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev ? fmt::format("SIG{}", abbrev) : fmt::format("signal {}", sig);
}

}  // namespace

RunOutcome run_outcome(const StopRequest& stop, const RunEnd& end) {
  if (!end.spawn_error.empty()) {
    return {JobState::failed, EndReason::spawn_failed, end.spawn_error};
  }
  switch (stop.why) {
    case EndReason::timeout:
      return {JobState::timed_out, EndReason::timeout,
              fmt::format("ran past its timeout of {} s and was stopped", stop.timeout_s)};
    case EndReason::cancelled:
      return {JobState::cancelled, EndReason::cancelled, ""};
    case EndReason::vram_exceeded:
      return {JobState::failed, EndReason::vram_exceeded,
              stop.detail + "; stopped (--vram-policy kill) to protect the other jobs on its GPU"};
    case EndReason::interrupted:
      return {JobState::failed, EndReason::interrupted,
              "vramq shut down while the job was running"};
    case EndReason::preempted:
      return {JobState::failed, EndReason::preempted, stop.detail};
    default:
      break;
  }
  if (!end.lost.empty()) return {JobState::failed, EndReason::interrupted, end.lost};
  if (!end.log_limit.empty()) {
    return {JobState::failed, EndReason::log_limit,
            fmt::format("its {}.log reached the limit of {} bytes per log (log_limit_bytes); the "
                        "job was stopped",
                        end.log_limit, end.log_limit_bytes)};
  }
  if (end.orphaned) {
    return {JobState::failed, EndReason::interrupted,
            "no vramq server attached within --orphan-grace-s; its supervisor ended it"};
  }
  if (end.exit_code && *end.exit_code != 0) {
    return {JobState::failed, EndReason::nonzero_exit,
            fmt::format("exited with code {}", *end.exit_code)};
  }
  if (end.signal) {
    return {JobState::failed, EndReason::signal,
            fmt::format("killed by {}", signal_name(*end.signal))};
  }
  return {JobState::succeeded, EndReason::none, ""};
}

RunOutcome worker_run_outcome(const StopRequest& stop, const WorkerRunEnd& end) {
  if (stop.why != EndReason::none) return run_outcome(stop, RunEnd{});
  switch (end.kind) {
    case WorkerRunEnd::Kind::result:
      return {JobState::succeeded, EndReason::none, ""};
    case WorkerRunEnd::Kind::error:
      return {JobState::failed, end.retryable ? EndReason::worker_failed : EndReason::worker_error,
              fmt::format("the worker reported an error{}: {}", end.retryable ? " (retryable)" : "",
                          end.message)};
    case WorkerRunEnd::Kind::cancelled:
      return {JobState::failed, EndReason::worker_error,
              "the worker cancelled the run although nobody asked it to"};
    case WorkerRunEnd::Kind::crashed:
      break;
  }
  if (!end.exit.log_limit.empty()) return run_outcome(stop, end.exit);
  return {JobState::failed, EndReason::worker_crashed, end.message};
}

bool should_retry(JobState state, EndReason reason, int attempt, int max_retries) {
  return (state == JobState::failed || state == JobState::timed_out) &&
         reason != EndReason::spawn_failed && reason != EndReason::dependency_failed &&
         reason != EndReason::log_limit && reason != EndReason::worker_error &&
         attempt <= max_retries;
}

LostRun lost_run(const LostRunFacts& run) {
  if (run.requeue_on_restart && !run.requeued_before) return LostRun::requeue_once;
  return run.attempt <= run.max_retries ? LostRun::retry : LostRun::fail;
}

bool is_host_error(int errno_value) {
  switch (errno_value) {
    case ENOSPC:
    case EDQUOT:
    case EMFILE:
    case ENFILE:
    case EAGAIN:
    case ENOMEM:
    case ENOBUFS:
    case EIO:
    case EROFS:
      return true;
    default:
      return false;
  }
}

std::int64_t host_failure_backoff_ms(int failures) {
  int doublings = std::clamp(failures - 1, 0, 6);
  return std::min<std::int64_t>(60'000, std::int64_t{1000} << doublings);
}

bool failed_by_itself(EndReason reason) {
  return reason == EndReason::nonzero_exit || reason == EndReason::signal ||
         reason == EndReason::worker_crashed || reason == EndReason::worker_error ||
         reason == EndReason::worker_failed;
}

bool relabel_gpu_oom(RunOutcome& outcome, std::string_view evidence, std::int64_t reservation_mb,
                     std::optional<std::int64_t> peak_mb) {
  if (!failed_by_itself(outcome.reason) || !looks_like_gpu_oom(evidence)) return false;
  outcome.reason = EndReason::gpu_oom;
  outcome.error = gpu_oom_error(reservation_mb, peak_mb);
  return true;
}

}  // namespace vramq::core
