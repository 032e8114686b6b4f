#pragma once
// A kind of run: how a job's run starts, is stopped, is measured and ends. Three kinds exist, each
// in its own unit with its own state: a process under its own supervisor (process_runs), a run
// on a warm worker (warm_workers), a run handed to a cluster (cluster_runs). The orchestrator
// keeps one Run per running job with the kind that runs it, picks the kind when it starts a job,
// and asks the kind for everything that differs between kinds; a kind reports back only through
// RunHost (the orchestrator's side of the seam). Loop only.
//
// To add a kind: implement RunKind, report starts and ends through RunHost, and pick it in
// Orchestrator::kind_for().

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/job.hpp"
#include "core/progress.hpp"
#include "core/run_outcome.hpp"
#include "core/vram_guard.hpp"
#include "exec/executor.hpp"
#include "gpu/gpu_source.hpp"
#include "service/service_clock.hpp"
#include "service/views.hpp"
#include "util/unix_user.hpp"

namespace vramq::service {

class RunKind;

// The orchestrator's record of a running job (of a job handed to a cluster, too, while it waits
// there). Created when the run starts, erased when its end comes through RunHost::end_run.
struct Run {
  RunKind* kind = nullptr;                  // never null; the kind outlives its runs
  std::vector<int> gpus;                    // index order
  std::int64_t reservation_mb = 0;          // on each of its GPUs
  std::map<int, std::int64_t> measured_mb;  // per GPU, where the last reading had a figure
  // Measured MiB-seconds so far (usage accounting): each reading's use over all its GPUs, held
  // until the next reading.
  double measured_mib_s = 0;
  std::int64_t measured_at_ms = 0;  // the last reading's time (0: none yet)
  // Adds the time since the last reading at that reading's use, then takes the new one's.
  void account_measured(std::int64_t now_ms, const std::map<int, std::int64_t>& now_mb);
  // Its highest use on any one of its GPUs in the last reading, for enforcement.
  std::optional<std::int64_t> highest_mb() const;
  std::string job_dir;
  std::unique_ptr<ServiceTimer> timeout;
  std::unique_ptr<ServiceTimer> kill;
  core::EndReason stop_reason = core::EndReason::none;  // why we are stopping it, if we are
  core::OverUse over_use;   // its measured use against its reservation, reading by reading
  std::string stop_detail;  // what made us stop it (vram_exceeded, preempted), for its `error`
  // From the stop's SIGTERM (or a worker's cancel) to SIGKILL: --kill-grace-s, or
  // --preempt-grace-s for a preemption.
  std::int64_t stop_grace_s = 0;
  std::optional<std::size_t> warning_index;  // its over-use warning in job.warnings (warn)
  std::optional<std::int64_t> published_mb;  // its use as the last job event showed it
  // Progress (job_progress.cpp): the newest, when it was read, whether it has been published,
  // the log sizes already read, and whether the job reports explicitly (then tqdm is ignored).
  std::optional<core::Progress> progress;
  std::int64_t progress_at_ms = 0;
  bool progress_unpublished = false;
  std::int64_t stderr_size_read = -1;
  std::int64_t report_size_read = -1;
  bool reports = false;

  // Its timeout (none when `timeout_s` is 0), counted from its start: `expired` then.
  void arm_timeout(boost::asio::io_context& ioc, std::int64_t started_at_ms, std::int64_t timeout_s,
                   std::function<void()> expired);
  // `job` (this run's) said how far it is: kept, with an estimate of the time left when it gave
  // none, to be published with the next readings if it changed.
  void set_progress(const core::Job& job, core::Progress p);

  // Why the server was stopping it (if it was), for the decision about its end.
  core::StopRequest stop_request(std::int64_t timeout_s) const {
    return {.why = stop_reason, .detail = stop_detail, .timeout_s = timeout_s};
  }
};

// How a run ended, for the one door (RunHost::end_run). What it needs read off the loop is named
// here, not read by the kind: the door reads it all at once.
struct RunEnd {
  core::RunOutcome outcome;
  // The executor's run to release once the end is stored (a worker's runs have none of their own).
  std::optional<int> ran_attempt;
  // Its stdout: the run's own stdout.log (nullopt), or the text a worker answered, written as its
  // stdout.log.
  std::optional<std::string> result;
  // A log whose tail tells an out-of-memory death from another failure of its own.
  std::string evidence_log;
  // A worker's crash: the log's last words go into the error when they do not tell an OOM.
  bool quote_evidence = false;
  std::string peak_file;  // a cluster's run: its batch step's measured peak
};

// Where the pass placed a job, and what its run gets in its environment.
struct Placement {
  std::vector<int> gpus;
  core::WorkerId worker = 0;  // an idle warm worker the pass chose (0: none)
  std::string job_dir;
  std::vector<std::pair<std::string, std::string>> env;  // the job's, VRAMQ_*, CUDA_*
  std::int64_t started_at_ms = 0;  // the start the run is recorded with (Unix ms)
  // The user it runs as (service/job_users.hpp; nullptr: vramq's own), valid during start().
  const util::UnixUser* user = nullptr;
};

// The orchestrator's side of the seam: the jobs a kind runs and the ends of their runs.
class RunHost {
 public:
  // A job with a run (or one being started): in memory until its end is recorded.
  virtual core::Job& job_of(core::JobId id) = 0;
  virtual Run* run_of(core::JobId id) = 0;  // nullptr once its end went through the door
  // The run could not start: queued again after a host error (the executor's run `ran_attempt`
  // released once stored), else failed spawn_failed. Its Run, if any, is dropped.
  virtual void start_failed(core::JobId id, std::string why, int errno_value,
                            std::optional<int> ran_attempt) = 0;
  // The one door for a run's end: its Run goes, its output is read or written off the loop, an
  // OOM is recognised, then the job ends or is retried (Orchestrator::finish).
  virtual void end_run(core::JobId id, RunEnd end) = 0;
  // The run started now (a cluster's: when the cluster started it, on `gpus`): the job is
  // `running` from `started_at_ms`, stored and published, its timeout counts from then.
  virtual void run_started(core::JobId id, std::vector<int> gpus, std::int64_t started_at_ms) = 0;
  virtual void changed(core::JobId id) = 0;  // what the API shows of the job changed: publish it
  virtual void schedule_soon() = 0;

 protected:
  ~RunHost() = default;
};

// Why a kind could never run a job, found at submit: the request's field and the reason.
struct Refusal {
  std::string field;
  std::string detail;
};

class RunKind {
 public:
  virtual ~RunKind() = default;
  // Checked at submit: whether it could ever run `job` (nullopt: it could).
  virtual std::optional<Refusal> refuses(const core::Job& job) const = 0;
  // Whether a start depends on the GPU ledger alone (a warm run depends on its workers too):
  // then admission may know without a pass where a job would start.
  virtual bool placed_by_ledger() const { return true; }
  // What starting `job` (on idle worker `worker`, where the pass chose one) adds to its GPUs
  // now; nullopt when it can no longer start so (the worker is no longer idle).
  virtual std::optional<std::int64_t> start_need_mb(const core::Job& job,
                                                    core::WorkerId /*worker*/) const {
    return job.spec.vram_mb;
  }
  // Starts `job`'s run where `where` says; nullopt when it could not (the host was told through
  // start_failed). The job's Run is made by the host after this, with reservation_mb() below.
  virtual std::optional<exec::Launched> start(core::Job& job, const Placement& where) = 0;
  // What the run holds in the ledger (a warm worker's run: all the worker holds).
  virtual std::int64_t reservation_mb(const core::Job& job) const { return job.spec.vram_mb; }
  // The run is recorded (running, stored, published).
  virtual void started(core::JobId /*id*/) {}
  // Stops the run (its stop_reason is set): a cancel, its timeout, enforcement, the drain.
  virtual void stop(core::JobId id, Run& r) = 0;
  // How the next GPU reading finds its processes (pgid, sim file, usage file).
  virtual gpu::JobProbe probe(core::JobId id, const Run& r) const = 0;
  // A reading saw it use `mb` at most on one GPU.
  virtual void measured(core::JobId /*id*/, std::int64_t /*mb*/) {}
  // What only the kind knows for the API (a cluster's queue and state).
  virtual void describe(core::JobId /*id*/, JobView& /*view*/) const {}
  // Whether it runs now (false: it waits in a cluster's queue, the job still `queued`).
  virtual bool running(core::JobId /*id*/) const { return true; }
  // A kind that takes queued jobs itself, without the pass placing them (a cluster's scheduler
  // places them): how many it takes now. nullopt: the pass places this kind's jobs.
  virtual std::optional<std::size_t> takes_queue() const { return std::nullopt; }
  // A run the last server left (recovery), taken over: its end will come through the door. The
  // kind may rewrite where it runs (`run.gpus`). The host makes its Run after this.
  virtual void adopt(core::JobId id, exec::Survivor& run) = 0;
};

}  // namespace vramq::service
