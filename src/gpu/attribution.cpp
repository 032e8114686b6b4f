#include "gpu/attribution.hpp"

#include <algorithm>
#include <map>
#include <set>

namespace vramq::gpu {

namespace {

// owner_of() for a process whose stat has been read already (nullopt: it is gone).
std::optional<core::JobId> owner_from(std::int64_t pid, std::optional<util::ProcStat> stat,
                                      std::span<const JobProbe> jobs, const ProcessLookup& lookup) {
  auto job_led_by = [&](std::int64_t p) -> std::optional<core::JobId> {
    for (const JobProbe& j : jobs) {
      if (j.pgid > 1 && j.pgid == p) return j.job;
    }
    return std::nullopt;
  };
  if (!stat) return std::nullopt;  // gone since NVML listed it: nothing to attribute
  if (auto job = job_led_by(stat->pgid)) return job;
  std::int64_t at = pid;
  for (int depth = 0; depth < 64 && stat && at > 1; ++depth) {
    if (auto job = job_led_by(at)) return job;
    at = stat->ppid;
    stat = lookup(at);
  }
  return std::nullopt;
}

}  // namespace

std::optional<core::JobId> owner_of(std::int64_t pid, std::span<const JobProbe> jobs,
                                    const ProcessLookup& lookup) {
  return owner_from(pid, lookup(pid), jobs, lookup);
}

GpuSample attribute(std::span<const NvmlDevice> devices, std::span<const JobProbe> jobs,
                    const ProcessLookup& lookup) {
  GpuSample out;
  for (const NvmlDevice& d : devices) {
    GpuInfo g{.index = d.index,
              .uuid = d.uuid,
              .name = d.name,
              .total_mb = d.total_mb,
              .used_mb = d.used_mb,
              .foreign_mb = 0,
              .foreign_processes = {},
              .error = d.error};
    if (!d.error.empty()) {  // nothing to attribute: its jobs count as their reservations
      out.gpus.push_back(std::move(g));
      continue;
    }
    std::map<core::JobId, std::int64_t> known_mb;  // this device, per job
    std::set<core::JobId> unknown;                 // a process of the job with no reading
    for (const NvmlProcess& p : d.processes) {
      std::optional<util::ProcStat> stat = lookup(p.pid);  // read once: owner and name
      std::optional<core::JobId> job = owner_from(p.pid, stat, jobs, lookup);
      if (!job) {
        g.foreign_processes.push_back(
            {.pid = p.pid, .name = stat ? stat->comm : "", .used_mb = p.used_mb});
        continue;
      }
      if (p.used_mb >= 0) {
        known_mb[*job] += p.used_mb;
      } else {
        unknown.insert(*job);
      }
    }
    std::int64_t attributed = 0;
    for (const auto& [job, mb] : known_mb) {
      out.job_used_mb[job][d.index] += mb;
      attributed += mb;
    }
    for (core::JobId job : unknown) {
      auto probe = std::ranges::find(jobs, job, &JobProbe::job);
      if (probe != jobs.end() && !known_mb.contains(job)) attributed += probe->reservation_mb;
    }
    if (!d.processes_known) {
      // No process list: vramq's jobs on this GPU are taken to use their reservations.
      for (const JobProbe& j : jobs) {
        if (std::ranges::find(j.gpus, d.index) != j.gpus.end()) attributed += j.reservation_mb;
      }
    }
    g.foreign_mb = std::max<std::int64_t>(0, d.used_mb - attributed);
    out.gpus.push_back(std::move(g));
  }
  return out;
}

}  // namespace vramq::gpu
