#pragma once
// The GPUs of a Slurm cluster (--executor slurm) as GPU readings: each node's GPUs from
// `scontrol show node -o` (its Gres counts: gpu, and shard or vram split evenly among its GPUs,
// so a node's GPUs are taken to be alike), their use from the running jobs' GRES per GPU index
// in `squeue --json` (the node's own GresUsed does not say which GPU a shard is on). Use by jobs
// that are not this server's counts as foreign. A node that is down or drained has GPUs without
// a reading (its state and reason say why). Blocking: the GPU poller's thread only.

#include <string>

#include "core/slurm_request.hpp"
#include "exec/slurm_status.hpp"
#include "gpu/gpu_source.hpp"

namespace vramq::gpu {

class SlurmGpuSource final : public GpuSource {
 public:
  // `name_prefix`: this server's Slurm job names begin with it.
  SlurmGpuSource(core::SlurmSettings settings, std::string name_prefix,
                 std::int64_t command_timeout_ms);
  std::string_view kind() const override { return "slurm"; }
  core::Result<GpuSample> sample(std::span<const JobProbe> jobs) override;

 private:
  core::SlurmSettings settings_;
  std::string name_prefix_;
  std::int64_t command_timeout_ms_;
};

// Pure: the GPUs that `nodes` and `jobs` describe (sorted by node, then GPU index).
std::vector<GpuInfo> slurm_gpus(const std::vector<exec::SlurmNode>& nodes,
                                const std::vector<exec::SlurmJobStatus>& jobs,
                                const core::SlurmSettings& settings, std::string_view name_prefix);

}  // namespace vramq::gpu
