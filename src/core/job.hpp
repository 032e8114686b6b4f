#pragma once
// The job: what a client asked for (JobSpec), its lifecycle (JobState and the one transition
// table), and the stable codes the API shows. Pure values; no I/O.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vramq::core {

using JobId = std::int64_t;
using WorkerId = std::int64_t;  // a warm worker (issue 12); ids start at 1

enum class JobState { queued, running, succeeded, failed, cancelled, timed_out };

// Why a job ended the way it did (the job object's `reason`).
enum class EndReason {
  none,
  nonzero_exit,
  signal,
  spawn_failed,
  gpu_oom,
  timeout,
  cancelled,
  interrupted,
  vram_exceeded,
  dependency_failed,  // a job it had to wait for (after.ok) did not succeed: it never ran
  log_limit,          // a log file reached log_limit_bytes; the job was stopped
  worker_crashed,     // its warm worker died or hung during its run (or its setup)
  worker_error,       // its warm worker reported that the run failed and a retry would too
  worker_failed,      // its warm worker reported that the run failed; a retry may succeed
  preempted,  // stopped to give borrowed VRAM back to an owner's guarantee (core/reclaim.hpp);
              // queued again, not a failure, not counted against max_retries
};

// Why a queued job is not running now (the job object's `pending_reason`). Closed enum: the API,
// the CLI and the dashboard show these codes verbatim.
enum class PendingReason {
  none,      // not pending (about to start, or not queued)
  priority,  // it would fit, but a higher-priority job waiting past the backfill bound holds the
             // GPU
  vram,      // no GPU has enough free VRAM for it now
  head_of_line,      // it would fit, but a job ahead of it waiting past the backfill bound holds
                     // the GPU
  draining,          // the service is shutting down and starts nothing
  gpu_unknown,       // the GPUs it could use have no current reading
  dependency,        // it waits for other jobs to end (after.ok / after.any)
  retry_delay,       // a retry waiting out its delay (retry_delay_s, doubled per attempt)
  start_failed,      // its start failed for a host reason (disk full, no descriptors or memory):
                     // tried again after a back-off
  worker_busy,       // its task's warm workers are all busy and max_workers are resident
  worker_unloading,  // idle warm workers are being unloaded to make room for it
  worker_backoff,    // its task's workers keep crashing: no new one is started before a back-off
  cluster,           // submitted to the cluster (Slurm), which decides when it starts
  quota,       // its owner (or group) is at a limit (limit_mb, max_running), or above its guarantee
               // and the job is not preemptible (core/owner_quota.hpp)
  reclaiming,  // its owner is under its guarantee: borrowed jobs are being stopped to make room
};

std::string_view to_string(JobState s);
std::string_view to_string(EndReason r);
std::string_view to_string(PendingReason r);
std::optional<JobState> parse_job_state(std::string_view s);
std::optional<EndReason> parse_end_reason(std::string_view s);

bool is_terminal(JobState s);

// A job's env with every value emptied: what is kept of it once the job has ended (values may be
// secrets, such as HF_TOKEN; the names still say what the job was given).
std::vector<std::pair<std::string, std::string>> without_values(
    std::span<const std::pair<std::string, std::string>> env);

// The single table of allowed lifecycle moves. running -> queued is a retry (or a requeue after
// an interrupted run); queued -> failed is a job that could not be started (spawn_failed).
bool can_transition(JobState from, JobState to);

// What was asked, already resolved by the task catalog into something executable.
struct JobSpec {
  std::string task;                // catalog task name, or empty for a raw command
  std::string params_json = "{}";  // validated parameters, canonical JSON object text
  std::vector<std::string> argv;
  std::string cwd;
  std::vector<std::pair<std::string, std::string>> env;  // extra environment for the job
  std::int64_t vram_mb = 0;                              // reservation used for admission
  int priority = 0;
  std::int64_t timeout_s = 0;  // 0: no timeout
  int max_retries = 0;
  int gpus = 1;                    // how many GPUs it runs on at once, each with vram_mb reserved
  std::int64_t retry_delay_s = 0;  // wait before the first retry; doubled for each later one
  std::vector<std::int64_t> after_ok;   // jobs that must succeed before this one may start
  std::vector<std::int64_t> after_any;  // jobs that must end (however) before it may start
  std::string name;                     // the client's name for it ("")
  std::vector<std::pair<std::string, std::string>> labels;  // sorted by key, keys unique
  std::string owner;  // the token's holder that submitted it ("" without tokens)
  // May run above its owner's guarantee on borrowed VRAM, and be taken back for another owner's
  // guarantee (core/owner_quota.hpp).
  bool preemptible = false;
  bool operator==(const JobSpec&) const = default;
};

// Everything the store keeps about a job. Times are Unix milliseconds (0 = not yet).
struct Job {
  JobId id = 0;
  JobSpec spec;
  JobState state = JobState::queued;
  EndReason reason = EndReason::none;
  std::optional<int> gpu;  // its first GPU while running and after (null before)
  std::vector<int> gpus;   // every GPU it runs (or ran) on, in index order
  int attempt = 1;
  std::int64_t submitted_at_ms = 0;
  std::int64_t queued_at_ms = 0;   // start of the current wait (submit or requeue)
  std::int64_t not_before_ms = 0;  // a retry waiting out its delay may not start before this
  std::int64_t started_at_ms = 0;
  std::int64_t finished_at_ms = 0;
  std::optional<int> exit_code;
  std::optional<int> signal;
  std::string error;
  std::optional<std::int64_t> peak_vram_mb;
  std::string output;             // last 64 KiB of stdout, once terminal
  bool output_truncated = false;  // stdout was longer than `output` (the logs have it all)
  // What was noticed about a run that did not stop it (VRAM over-use under --vram-policy warn).
  std::vector<std::string> warnings;
  // Identity of the process group while running, to find (and kill) it after a crash. The start
  // time (clock ticks since boot, /proc/PID/stat field 22) tells a live job from a reused PID.
  std::int64_t pid = 0;
  std::int64_t pid_start_ticks = 0;
  // The warm worker its current (or last) run went to; 0: a process of its own. A run in flight
  // on a worker when the server stopped is queued again once: `restart_requeued` says it was.
  std::int64_t worker = 0;
  bool restart_requeued = false;
  // Its current (or last) run started above its owner's guarantee, on borrowed VRAM.
  bool borrowed = false;
  // Runs of it stopped to give VRAM back (EndReason::preempted): each began a new attempt, none
  // counts against max_retries.
  int preemptions = 0;
  bool operator==(const Job&) const = default;
};

}  // namespace vramq::core
