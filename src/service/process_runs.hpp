#pragma once
// A run of its own: the job's program as a process group under its own supervisor, started and
// signalled through the executor. Its exit (reported once by the executor) becomes a RunEnd at
// the door; a start its supervisor could not make for a reason of the host's is not an end: the
// job goes back to the queue (RunHost::start_failed). Loop only.

#include <memory>
#include <span>

#include "core/config.hpp"
#include "exec/executor.hpp"
#include "service/gpu_readings.hpp"
#include "service/run_kind.hpp"

namespace vramq::service {

// Whether this host's GPUs could ever run `job` (the checks of every kind that runs here).
std::optional<Refusal> local_refusal(const core::Job& job, std::span<const gpu::GpuInfo> gpus,
                                     std::int64_t buffer_mb);

class ProcessRuns : public RunKind {
 public:
  // `readings`: the GPUs (their sizes say what could ever run; a run's end leaves its memory
  // counted there as departed).
  ProcessRuns(boost::asio::io_context& ioc, RunHost& host, std::unique_ptr<exec::Executor> executor,
              const core::Config& config, GpuReadings& readings);
  // The executor these runs go through (owned here; warm workers' processes go through it too).
  exec::Executor& executor() { return *executor_; }
  const exec::Executor& executor() const { return *executor_; }

  // More GPUs than this host has, or more memory than any (enough) of them could ever give.
  std::optional<Refusal> refuses(const core::Job& job) const override;

  std::optional<exec::Launched> start(core::Job& job, const Placement& where) override;
  void started(core::JobId id) override;
  void stop(core::JobId id, Run& r) override;
  gpu::JobProbe probe(core::JobId id, const Run& r) const override;
  void adopt(core::JobId id, exec::Survivor& run) override;

 protected:
  // Its request to the executor.
  exec::LaunchSpec launch_spec(const core::Job& job, const Placement& where) const;
  // The executor reported the end: the RunEnd its exit status makes (nullopt: it never started
  // for a host reason, and has been queued again).
  std::optional<RunEnd> exit_end(core::JobId id, const exec::ExitStatus& status);
  virtual void exited(core::JobId id, const exec::ExitStatus& status);
  exec::Executor::ExitHandler on_exit(core::JobId id) {
    return [this, id](const exec::ExitStatus& st) { exited(id, st); };
  }

  boost::asio::io_context& ioc_;
  RunHost& host_;
  std::unique_ptr<exec::Executor> executor_;
  const core::Config& config_;
  GpuReadings& readings_;
};

}  // namespace vramq::service
