#include "core/slurm_request.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace vramq::core {

std::int64_t shards_for(std::int64_t vram_mb, std::int64_t shard_mb) {
  if (shard_mb <= 0) return 1;
  return std::max<std::int64_t>(1, (vram_mb + shard_mb - 1) / shard_mb);
}

std::int64_t time_limit_minutes(std::int64_t timeout_s) {
  if (timeout_s <= 0) return 0;
  return (timeout_s + 59) / 60;
}

SlurmSettings slurm_settings(const Config& c) {
  return {.mode = c.slurm_vram == "vram" ? SlurmVramMode::vram : SlurmVramMode::shard,
          .shard_mb = c.slurm_shard_mb,
          .partition = c.slurm_partition,
          .gpu_partition = c.slurm_gpu_partition,
          .account = c.slurm_account,
          .extra_args = c.slurm_sbatch_args};
}

int nice_for(int priority) {
  return 1000 - std::clamp(priority, -1000, 1000);
}

Result<std::vector<std::string>> sbatch_options(const SlurmJob& job, const SlurmSettings& s) {
  std::vector<std::string> out;
  if (job.gpus > 1) {
    // Shards give one GPU per job, and a partition must not mix shards with whole GPUs.
    if (s.gpu_partition.empty()) {
      return Error{fmt::format(
          "a job on {} GPUs needs a Slurm partition of whole GPUs (slurm_gpu_partition), and "
          "this server has none: shards give a job one GPU",
          job.gpus)};
    }
    out.push_back("--partition=" + s.gpu_partition);
    out.push_back(fmt::format("--gres=gpu:{}", job.gpus));
  } else {
    if (!s.partition.empty()) out.push_back("--partition=" + s.partition);
    std::int64_t units = s.mode == SlurmVramMode::shard ? shards_for(job.vram_mb, s.shard_mb)
                                                        : std::max<std::int64_t>(1, job.vram_mb);
    if (s.largest_gpu_units > 0 && units > s.largest_gpu_units) {
      return Error{
          s.mode == SlurmVramMode::shard
              ? fmt::format("vram_mb: {} MiB needs {} shards of {} MiB on one GPU, and no GPU of "
                            "the cluster has more than {} ({} MiB)",
                            job.vram_mb, units, s.shard_mb, s.largest_gpu_units,
                            s.largest_gpu_units * s.shard_mb)
              : fmt::format("vram_mb: {} MiB is more than any node of the cluster has ({} MiB)",
                            job.vram_mb, s.largest_gpu_units)};
    }
    out.push_back(s.mode == SlurmVramMode::shard ? fmt::format("--gres=shard:{}", units)
                                                 : fmt::format("--gres=gpu:1,vram:{}", units));
  }
  if (!s.account.empty()) out.push_back("--account=" + s.account);
  if (std::int64_t minutes = time_limit_minutes(job.timeout_s); minutes > 0) {
    out.push_back(fmt::format("--time={}", minutes));
  }
  out.push_back(fmt::format("--nice={}", nice_for(job.priority)));
  out.push_back(job.name.empty() ? fmt::format("--job-name=vramq-{}", job.id)
                                 : "--job-name=" + job.name);
  out.push_back("--chdir=" + (job.cwd.empty() ? job.job_dir : job.cwd));
  out.push_back("--output=" + job.job_dir + "/stdout.log");
  out.push_back("--error=" + job.job_dir + "/stderr.log");
  out.insert(out.end(), s.extra_args.begin(), s.extra_args.end());
  return out;
}

}  // namespace vramq::core
