#pragma once
// A run on a cluster (--executor slurm). The cluster's scheduler decides where and when a job
// starts, so the pass does not place these: every queued job is handed over at once, in queue
// order (takes_queue(): at most kUnconfirmed whose submission is not confirmed yet). A handed
// over job stays `queued` (pending_reason `cluster`, with the cluster's own reason) until the
// executor reports it running; then it is `running` on the GPUs the cluster gave it, and its
// timeout counts from the cluster's start. It is signalled and ends like a process of its own
// (ProcessRuns); its batch step on the node measures it (usage and peak files). Loop only.

#include <map>

#include "core/config.hpp"
#include "core/slurm_request.hpp"
#include "service/process_runs.hpp"

namespace vramq::service {

class ClusterRuns : public ProcessRuns {
 public:
  // `readings`: the GPU source's GPUs, whose uuids ("NODE/INDEX") name what the cluster gives
  // a job.
  ClusterRuns(boost::asio::io_context& ioc, RunHost& host, std::unique_ptr<exec::Executor> executor,
              const core::Config& config, GpuReadings& readings);

  // What Slurm would accept and never run (a request larger than any one GPU, several GPUs
  // without whole-GPU partitions).
  std::optional<Refusal> refuses(const core::Job& job) const override;
  std::optional<exec::Launched> start(core::Job& job, const Placement& where) override;
  void started(core::JobId id) override;
  gpu::JobProbe probe(core::JobId id, const Run& r) const override;
  void describe(core::JobId id, JobView& view) const override;
  bool running(core::JobId id) const override;
  std::optional<std::size_t> takes_queue() const override;
  void adopt(core::JobId id, exec::Survivor& run) override;

 protected:
  void exited(core::JobId id, const exec::ExitStatus& status) override;

 private:
  // Submissions in flight at once: a queue of thousands is handed over as the cluster accepts.
  static constexpr std::size_t kUnconfirmed = 64;
  struct Handed {
    bool pending = true;  // in the cluster's queue: the job is still `queued`
    std::optional<exec::ClusterRunState> state;  // where the cluster says it stands
  };
  void on_state(core::JobId id, const exec::ClusterRunState& state);
  std::vector<int> gpu_indexes(const std::vector<std::string>& uuids) const;

  core::SlurmSettings settings_;          // how jobs are asked of it
  std::map<core::JobId, Handed> handed_;  // its jobs, from the hand-over to the end
};

}  // namespace vramq::service
