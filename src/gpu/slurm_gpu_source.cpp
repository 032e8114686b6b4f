#include "gpu/slurm_gpu_source.hpp"

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "exec/slurm_cli.hpp"
#include "util/untrusted_files.hpp"

namespace vramq::gpu {

std::vector<GpuInfo> slurm_gpus(const std::vector<exec::SlurmNode>& nodes,
                                const std::vector<exec::SlurmJobStatus>& jobs,
                                const core::SlurmSettings& settings, std::string_view name_prefix) {
  bool shard = settings.mode == core::SlurmVramMode::shard;
  // What each running job takes of each GPU, by node and index; vramq's own and others'.
  std::map<std::pair<std::string, int>, std::pair<std::int64_t, std::int64_t>>
      used;  // own, foreign
  std::map<std::string, std::int64_t> per_gpu_mb;
  for (const exec::SlurmNode& n : nodes) {
    auto gpus = n.gres.find("gpu");
    if (gpus == n.gres.end() || gpus->second <= 0) continue;
    auto units = n.gres.find(shard ? "shard" : "vram");
    std::int64_t total = units == n.gres.end() ? 0 : units->second;
    per_gpu_mb[n.name] = (shard ? total * settings.shard_mb : total) / gpus->second;
  }
  for (const exec::SlurmJobStatus& j : jobs) {
    if (!exec::is_running(j.state) || j.nodes.find(',') != std::string::npos) continue;
    bool own = std::string_view(j.name).starts_with(name_prefix);
    std::vector<int> indexes;
    std::int64_t mb = 0;
    bool whole = false;
    for (const exec::SlurmJobStatus::Gres& g : j.gres) {
      if (g.name == "shard") {
        indexes = g.indexes;
        mb += g.count * settings.shard_mb;
      } else if (g.name == "gpu") {
        indexes = g.indexes;
        whole = true;
      } else if (g.name == "vram") {
        mb += g.count;
      }
    }
    if (whole && mb == 0) mb = per_gpu_mb[j.nodes];  // a whole GPU, nothing finer asked
    if (indexes.empty()) continue;
    // A job on several GPUs takes as much of each.
    for (int i : indexes) {
      auto& [mine, others] = used[{j.nodes, i}];
      (own ? mine : others) += mb;
    }
  }
  std::vector<GpuInfo> out;
  std::vector<const exec::SlurmNode*> sorted;
  sorted.reserve(nodes.size());
  for (const exec::SlurmNode& n : nodes)
    sorted.push_back(&n);
  std::ranges::sort(sorted, [](const auto* a, const auto* b) { return a->name < b->name; });
  for (const exec::SlurmNode* n : sorted) {
    auto gpus = n->gres.find("gpu");
    if (gpus == n->gres.end() || gpus->second <= 0) continue;
    for (std::int64_t i = 0; i < gpus->second; ++i) {
      GpuInfo g;
      g.index = static_cast<int>(out.size());
      g.uuid = exec::slurm_gpu_uuid(n->name, i);
      g.name = fmt::format("{} GPU {} (Slurm)", n->name, i);
      g.node = n->name;
      g.total_mb = per_gpu_mb[n->name];
      auto u = used.find({n->name, static_cast<int>(i)});
      if (u != used.end()) {
        g.used_mb = std::min(g.total_mb, u->second.first + u->second.second);
        g.foreign_mb = std::min(g.total_mb, u->second.second);
      }
      if (!exec::node_usable(n->state)) {
        g.error = fmt::format("node {} is {}{}{}", n->name, n->state, n->reason.empty() ? "" : ": ",
                              n->reason);
      }
      out.push_back(std::move(g));
    }
  }
  return out;
}

SlurmGpuSource::SlurmGpuSource(core::SlurmSettings settings, std::string name_prefix,
                               std::int64_t command_timeout_ms)
    : settings_(std::move(settings)),
      name_prefix_(std::move(name_prefix)),
      command_timeout_ms_(command_timeout_ms) {}

core::Result<GpuSample> SlurmGpuSource::sample(std::span<const JobProbe> probes) {
  auto timeout = std::chrono::milliseconds(command_timeout_ms_);
  auto nodes = exec::scontrol_nodes(timeout);
  if (!nodes) return core::Error{"Slurm: " + nodes.error().message};
  auto jobs = exec::squeue_jobs(timeout);
  if (!jobs) return core::Error{"Slurm: " + jobs.error().message};
  GpuSample s;
  s.gpus = slurm_gpus(*nodes, *jobs, settings_, name_prefix_);
  // Each running job's use as its batch step last measured it on its node (highest on one GPU;
  // a job runs on one GPU, or as much on each of several).
  for (const JobProbe& j : probes) {
    if (j.usage_file.empty() || j.gpus.empty()) continue;
    std::optional<std::int64_t> mb = util::read_mb_file(j.usage_file);
    if (!mb) continue;
    for (int g : j.gpus)
      s.job_used_mb[j.job][g] = *mb;
  }
  return s;
}

}  // namespace vramq::gpu
