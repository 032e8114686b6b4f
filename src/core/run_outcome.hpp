#pragma once
// How the end of a run becomes a job's state, reason and error, and whether it is retried: the
// decisions the orchestrator makes when an executor reports an exit, as pure functions.

#include <optional>
#include <string>

#include "core/job.hpp"

namespace vramq::core {

// What an executor reports about a run's end.
struct RunEnd {
  std::optional<int> exit_code;
  std::optional<int> signal;
  bool orphaned = false;    // its supervisor ended it: no server attached within the grace
  std::string spawn_error;  // it could not be started (nothing ran)
  int spawn_errno = 0;      // the errno behind spawn_error, when there was one
  std::string lost;         // no record of its end exists (its supervisor died): why
  std::string log_limit;    // "stdout"/"stderr": that log reached its cap and the job was stopped
  std::int64_t log_limit_bytes = 0;  // the cap it reached
  bool operator==(const RunEnd&) const = default;
};

struct RunOutcome {
  JobState state = JobState::succeeded;
  EndReason reason = EndReason::none;
  std::string error;
  bool operator==(const RunOutcome&) const = default;
};

// Why the server was stopping the run, if it was: its own ends come first (a job killed because
// of its timeout ends timed_out, whatever its exit code).
struct StopRequest {
  EndReason why = EndReason::none;  // timeout, cancelled, vram_exceeded, interrupted, or none
  std::string detail;               // vram_exceeded: what was measured
  std::int64_t timeout_s = 0;
};
RunOutcome run_outcome(const StopRequest& stop, const RunEnd& end);

// How a run on a warm worker ended, as the server saw it (docs/workers.md).
struct WorkerRunEnd {
  enum class Kind { result, error, cancelled, crashed } kind = Kind::result;
  // error: the worker's message; crashed: what happened to the worker, in words.
  std::string message;
  bool retryable = false;  // error
  RunEnd exit;             // crashed: how its process ended (a log past its cap, ...)
};
// Stops the server asked for come first (a result that arrives after a cancel was sent ends the
// job cancelled); an error ends it worker_failed (retryable) or worker_error (never retried); a
// crash worker_crashed (the caller looks for an out-of-memory death in its log).
RunOutcome worker_run_outcome(const StopRequest& stop, const WorkerRunEnd& end);

// Whether a run that ended this way is tried again: failures and timeouts (not a failed spawn,
// not a cancel, not a log past its cap: it would write as much again) while retries remain.
bool should_retry(JobState state, EndReason reason, int attempt, int max_retries);

// A run found lost at start-up (neither its supervisor nor a record of its end is left): what
// becomes of its job. A run on a warm worker ended with the server that spoke to it: it is
// queued again once, unless its task opts out (requeue_on_restart = false: a run that must not
// be repeated); then, like any lost run, it is retried while retries remain, else it fails
// `interrupted`.
enum class LostRun { requeue_once, retry, fail };
struct LostRunFacts {
  bool requeue_on_restart = false;  // a warm worker's run, whose task allows a requeue
  bool requeued_before = false;     // job.restart_requeued
  int attempt = 1;
  int max_retries = 0;
};
LostRun lost_run(const LostRunFacts& run);

// Whether a start that failed with this errno failed for a reason of the host's (a full disk,
// no descriptors, processes or memory left), not the job's: such a job is queued again, with a
// back-off, instead of failing `spawn_failed` (a bad argv or a missing program stays one).
bool is_host_error(int errno_value);

// The wait before the next start after `failures` host failures in a row: 1 s doubling, at most
// a minute.
std::int64_t host_failure_backoff_ms(int failures);

// Whether the run's end says it failed on its own (its stderr, or its worker's message, then
// tells a CUDA out-of-memory death): not when vramq stopped it, or it could not start.
bool failed_by_itself(EndReason reason);

// The one place a run that failed on its own becomes `gpu_oom`: when `evidence` (its stderr's
// tail, its worker's error message or log) shows a CUDA out-of-memory death. Its error then says
// whether the job outgrew its reservation (`peak_mb`) or others took the memory; a retry of it
// asks for more (the retry decision's). Returns whether it relabelled.
bool relabel_gpu_oom(RunOutcome& outcome, std::string_view evidence, std::int64_t reservation_mb,
                     std::optional<std::int64_t> peak_mb);

}  // namespace vramq::core
