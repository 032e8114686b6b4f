#pragma once
// How jobs run: the orchestrator asks an Executor to start a job and later to signal it, and the
// executor reports the exit once. Runs outlive the server that started them (each has a
// supervisor locally, or is the cluster's under Slurm): at start-up the next server asks for the
// survivors of the last one and adopts them. Local today; Slurm slots in behind the same shape.

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/system/result.hpp>

#include "core/job.hpp"
#include "core/run_outcome.hpp"
#include "util/unix_user.hpp"

namespace vramq::exec {

struct LaunchSpec {
  core::JobId job = 0;
  std::vector<std::string> argv;  // argv[0] is a path; executed with execve, never a shell
  std::string cwd;
  std::vector<std::string> env;  // "KEY=VALUE", the job's whole environment
  std::string stdout_path;
  std::string stderr_path;
  int attempt = 1;  // a job's runs are told apart by attempt
  // When the run started, as the server records it (Unix ms; 0: when the job's process started):
  // kept in the run's record, so that a server that adopts a run whose start was never stored
  // shows the start its predecessor showed.
  std::int64_t started_at_ms = 0;
  std::vector<int> gpus;  // recorded with the run, for the server that adopts it
  // A warm worker (its `job` is its id negated): its stdin and stdout are a socket whose other
  // end comes back in Launched::stdio_fd; stdout_path is unused, stderr_path is its own log.
  bool worker_stdio = false;
  // The user the job runs as (nullopt: the executor's own); its supervisor stays the server's.
  std::optional<util::UnixUser> user;
  // What the run needs, for an executor that places runs itself (a cluster's scheduler): VRAM on
  // each GPU, how many GPUs, its time limit, its priority, and its job directory (its logs).
  struct Needs {
    std::int64_t vram_mb = 0;
    int gpus = 1;
    std::int64_t timeout_s = 0;  // 0: none
    int priority = 0;
    std::string job_dir;
  } needs;
};

// The run's supervisor (its PID and start time: a reused PID is never taken for it).
struct Launched {
  pid_t pid = 0;
  std::int64_t start_ticks = 0;  // /proc/PID/stat starttime
  // worker_stdio: the server's end of the worker's stdin/stdout (close-on-exec, blocking). The
  // caller owns it and must close it (its closing ends a worker that reads its stdin to EOF).
  int stdio_fd = -1;
};

struct SpawnError {
  int errno_value = 0;
  std::string message;  // names the program and the cause
};

// How a run ended: its exit code or signal, or why it has none (core/run_outcome.hpp).
using ExitStatus = core::RunEnd;

// Where a run stands in a cluster's queue (executors whose runs wait there: Slurm).
struct ClusterRunState {
  enum class Phase { submitted, pending, running };
  Phase phase = Phase::submitted;
  std::int64_t cluster_id = 0;  // Slurm's job id
  std::string state;            // the cluster's word: PENDING, RUNNING, ...
  std::string reason;           // why it waits, in the cluster's words (Resources, Priority)
  std::string nodes;            // running: where
  // running: its GPUs as "NODE/INDEX" (the GPU source's uuids), when the cluster says.
  std::vector<std::string> gpus;
  std::int64_t started_at_ms = 0;  // running: when the cluster started it
  bool operator==(const ClusterRunState&) const = default;
};

// A run an earlier server started, found at start-up.
struct Survivor {
  core::JobId job = 0;
  int attempt = 0;
  bool started = false;  // the job's process was started (false: nothing ran)
  bool alive = false;    // its supervisor runs: adopt() re-attaches and the run goes on
  std::vector<int> gpus;
  std::int64_t started_at_ms = 0;
  Launched supervisor;
  // Not alive: how it ended (recorded by its supervisor, or `lost` when nothing was recorded).
  std::optional<ExitStatus> ended;
  // A cluster's run (queues_runs()): where it stood when found (pending or running).
  std::optional<ClusterRunState> cluster;
};

// What only an executor of local processes can do: switch a running warm worker's stderr to
// another file (a run's log) without restarting it.
class StderrSwitch {
 public:
  // The worker's stderr goes to `path` from now on; `done` runs on the loop once its supervisor
  // has switched (what the worker wrote before is in the old file). Never called when the run
  // ends first (its exit is reported instead).
  virtual void redirect_stderr(core::JobId job, std::string_view path,
                               std::function<void()> done) = 0;

 protected:
  ~StderrSwitch() = default;
};

class Executor {
 public:
  using ExitHandler = std::function<void(ExitStatus)>;
  using StateHandler = std::function<void(core::JobId, const ClusterRunState&)>;
  virtual ~Executor() = default;
  // On success `on_exit` is called exactly once, on the event loop, after the job's main process
  // has exited and every other process of the job has been killed.
  virtual boost::system::result<Launched, SpawnError> start(const LaunchSpec& spec,
                                                            ExitHandler on_exit) = 0;
  // Sends `sig` to every process of the job; a no-op for jobs no longer running.
  virtual void signal_group(core::JobId job, int sig) = 0;
  virtual std::size_t running() const = 0;

  // Start-up only (blocking): the runs an earlier server left. Each must then be adopted (its
  // end is reported to `on_exit` as for start(); at once, posted, if it has ended) or released.
  virtual std::vector<Survivor> survivors() = 0;
  virtual void adopt(const Survivor& run, ExitHandler on_exit) = 0;
  // The run's end is stored: what the executor kept about it (files, a connection) can go. A
  // run still going is killed first (a survivor no job claims).
  virtual void release(core::JobId job, int attempt) = 0;

  // True when a started run first waits in a cluster's queue: the job stays queued until the
  // state handler reports it running (local runs start at once).
  virtual bool queues_runs() const { return false; }
  // Called on the loop when a queued run's state changes (only where queues_runs()).
  virtual void on_state(const StateHandler& /*handler*/) {}

  // Runs started since this executor was made, by how their process was started (local:
  // `launcher`, forked by the supervisor launcher; `spawn`, exec'd). Empty: one way only.
  virtual std::vector<std::pair<std::string, std::uint64_t>> starts() const { return {}; }
};

}  // namespace vramq::exec
