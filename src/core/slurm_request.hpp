#pragma once
// How a job is asked of Slurm (issue 14, the Slurm executor): its VRAM as shards of one GPU
// (`--gres=shard:N`, N = ceil(vram_mb / shard_mb), all from one GPU) or as a count-only `vram`
// GRES beside one whole GPU (`--gres=gpu:1,vram:MiB`, exact only on one-GPU nodes), its time
// limit in whole minutes (vramq's own timer keeps the exact limit), and its priority as Slurm's
// `--nice`. A request no GPU of the cluster can ever satisfy is refused here, at submit: Slurm
// would accept it and leave it pending forever. Pure: sbatch's options, not the command line.

#include <cstdint>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/error.hpp"

namespace vramq::core {

enum class SlurmVramMode { shard, vram };

struct SlurmSettings {
  SlurmVramMode mode = SlurmVramMode::shard;
  std::int64_t shard_mb = 1024;  // one shard's VRAM (gres.conf: a GPU's Count = its MiB / this)
  std::string partition;         // "" : the cluster's default
  std::string gpu_partition;     // whole GPUs for jobs on several GPUs ("" : such jobs refused)
  std::string account;
  std::vector<std::string> extra_args;  // the operator's, appended as given
  // The most shards (shard mode) or vram units (vram mode) one GPU of the cluster has (0: not
  // known yet: nothing is refused for size).
  std::int64_t largest_gpu_units = 0;
};

struct SlurmJob {
  std::int64_t id = 0;
  std::int64_t vram_mb = 0;  // per GPU
  int gpus = 1;
  std::int64_t timeout_s = 0;  // 0: none
  int priority = 0;            // -1000..1000
  std::string job_dir;         // shared with the nodes: its logs go there
  std::string name;            // Slurm's job name ("": vramq-ID); how vramq finds it again
  std::string cwd;             // where it runs ("": its job directory)
};

// sbatch's options for `job` (no program, no --parsable): the partition, account, GRES, time,
// nice, name and log paths, then the operator's extra arguments.
Result<std::vector<std::string>> sbatch_options(const SlurmJob& job, const SlurmSettings& s);

// The settings of a server's configuration (largest_gpu_units left 0: the cluster's to tell).
SlurmSettings slurm_settings(const Config& config);

std::int64_t shards_for(std::int64_t vram_mb, std::int64_t shard_mb);  // ceil, at least 1
std::int64_t time_limit_minutes(std::int64_t timeout_s);               // ceil; 0 for none
// Slurm's --nice for a vramq priority: 1000 - priority (0..2000; never negative, which would
// need Slurm operator rights), so that a higher priority is a higher Slurm priority.
int nice_for(int priority);

}  // namespace vramq::core
