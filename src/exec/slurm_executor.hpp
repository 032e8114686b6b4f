#pragma once
// Runs jobs on a Slurm cluster (--executor slurm) through its CLI tools: `sbatch --parsable`
// (argv, never a shell string; the job's environment exported), one `squeue --json` per poll for
// every run at once, `scontrol show job -o` for an ended run's exit code and signal, `scancel`.
// Slurm decides where and when a run starts; a run's state changes reach the orchestrator
// through on_state() (submitted, pending with Slurm's reason, running with its GPUs), its end
// through the exit handler, once.
//
// Each run has a record in the run directory (JOB-ATTEMPT.slurm), written and synced before its
// sbatch and given Slurm's id after: a server that dies in between finds the run again by its
// job name, which is unique to this data directory (name_prefix + JOB.ATTEMPT), so a run is
// never submitted twice. Runs are keyed on (cluster name, Slurm id): ids restart when a
// cluster's state is wiped. Thread safety: loop only; the CLI calls run on a worker thread of
// its own, one at a time (survivors() blocks: start-up only).

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/slurm_request.hpp"
#include "exec/executor.hpp"
#include "exec/slurm_status.hpp"
#include "util/worker.hpp"

namespace vramq::exec {

struct SlurmExecutorOptions {
  std::string run_dir;  // DATA_DIR/run/slurm: a record per run, and the batch script
  // `vramq` itself, at this path on every node too: each job runs as `vramq batch-step -- ARGV`,
  // which measures its VRAM through NVML on the node ("": the job's argv runs bare).
  std::string batch_step;
  core::SlurmSettings settings;
  std::string name_prefix;  // Slurm job names: PREFIX + "JOB.ATTEMPT"
  std::int64_t poll_ms = 1000;
  std::int64_t command_timeout_ms = 30'000;
};

class SlurmExecutor final : public Executor {
 public:
  // The run directory is created (0700) if missing; the batch script written into it.
  SlurmExecutor(boost::asio::any_io_executor loop, SlurmExecutorOptions options);
  ~SlurmExecutor() override;
  boost::system::result<Launched, SpawnError> start(const LaunchSpec& spec,
                                                    ExitHandler on_exit) override;
  void signal_group(core::JobId job, int sig) override;
  std::size_t running() const override { return runs_.size(); }
  std::vector<Survivor> survivors() override;
  void adopt(const Survivor& run, ExitHandler on_exit) override;
  void release(core::JobId job, int attempt) override;
  bool queues_runs() const override { return true; }
  void on_state(const StateHandler& handler) override { state_handler_ = handler; }

  // The cluster's name (scontrol show config), read at start-up; "" until then.
  const std::string& cluster() const { return cluster_; }
  // Blocking, start-up: reads the cluster's name; an error when the controller cannot be reached.
  core::Result<void> connect();

 private:
  struct Run {
    core::JobId job = 0;
    int attempt = 0;
    std::string name;
    std::int64_t slurm_id = 0;       // 0: not submitted yet
    std::optional<LaunchSpec> spec;  // until submitted
    ExitHandler on_exit;
    ClusterRunState last;  // what on_state() last reported
    bool ending = false;   // its end is being read (scontrol) or delivered
    bool cancel_sent = false;
  };
  struct Submitted {
    core::JobId job = 0;
    int attempt = 0;
    std::int64_t slurm_id = 0;
    std::string error;  // "" on success
    int errno_value = 0;
  };
  struct Ended {
    core::JobId job = 0;
    int attempt = 0;
    ExitStatus status;
  };
  std::string record_path(core::JobId job, int attempt) const;
  std::string run_name(core::JobId job, int attempt) const;
  // Worker thread: writes the record, runs sbatch, records the id.
  Submitted submit(const LaunchSpec& spec, const std::string& name) const;
  // Worker thread: how an ended run ended (scontrol show job -o; the squeue status otherwise).
  // nullopt: scontrol says it has not ended after all.
  std::optional<ExitStatus> end_of(const SlurmJobStatus* seen, std::int64_t slurm_id) const;
  void pump_submissions();
  void arm_poll();
  void poll();
  void on_poll(core::Result<std::vector<SlurmJobStatus>> jobs);
  void report(Run& run, const ClusterRunState& state);
  void deliver(core::JobId job, int attempt, ExitStatus status);
  // The same, posted to the loop (the run is marked ending at once).
  void deliver_later(Run& run, ExitStatus status);
  void scancel(std::int64_t slurm_id, bool kill);

  boost::asio::any_io_executor loop_;
  SlurmExecutorOptions options_;
  std::string batch_script_;
  std::string cluster_;
  std::map<core::JobId, Run> runs_;
  std::deque<core::JobId> to_submit_;
  bool submitting_ = false;
  bool polling_ = false;
  bool poll_failing_ = false;
  bool poll_armed_ = false;  // logged once until it answers again
  // Completions posted to the loop check this: the executor may be gone when they run.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  StateHandler state_handler_;
  boost::asio::steady_timer poll_timer_;
  util::Worker worker_;  // the CLI calls, one at a time (last: joined first at destruction)
};

}  // namespace vramq::exec
