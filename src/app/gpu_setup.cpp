#include "app/gpu_setup.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>

#include "core/slurm_request.hpp"
#include "core/startup_checks.hpp"
#include "core/units.hpp"
#include "gpu/nvml_gpu_source.hpp"
#include "gpu/nvml_library.hpp"
#include "gpu/sim_gpu_source.hpp"
#include "gpu/slurm_gpu_source.hpp"

namespace vramq::app {
namespace {

// One vramq per GPU on a host: a second server managing the same GPUs (another data directory)
// would hand out memory the first one has given away. Held GPUs refuse the start; a lock file
// that cannot be opened at all (another user's) only warns, so that it cannot block vramq.
core::Result<void> lock_gpus(const std::vector<gpu::NvmlDevice>& devices, const std::string& dir,
                             std::vector<HostLock>& locks) {
  for (const gpu::NvmlDevice& d : devices) {
    std::string path = fmt::format("{}/vramq-gpu-{}.lock", dir, d.uuid);
    auto lock = HostLock::acquire(path, fmt::format("GPU {} ({})", d.index, d.uuid));
    if (lock) {
      locks.push_back(std::move(*lock));
    } else if (lock.error().message.find("in use by another vramq") != std::string::npos) {
      return lock.error();
    } else {
      spdlog::warn("{}; NOT checking that no other vramq manages this GPU", lock.error().message);
    }
  }
  return {};
}

core::Result<std::unique_ptr<gpu::GpuSource>> make_gpu_source(const core::Config& config,
                                                              std::vector<HostLock>& gpu_locks) {
  const std::string& spec = config.gpus;
  if (spec.starts_with("sim:")) {
    auto sizes = core::parse_gpu_spec(spec.substr(4));
    if (!sizes) return core::Error{"--gpus " + spec + ": " + sizes.error().message};
    return std::unique_ptr<gpu::GpuSource>(std::make_unique<gpu::SimGpuSource>(*sizes));
  }
  if (spec != "nvml" && spec != "auto") {
    return core::Error{
        fmt::format("--gpus must be nvml, auto or sim:SPEC (e.g. sim:24GiB), got '{}'", spec)};
  }
  // Real GPUs through NVML; `auto` falls back to simulation (loudly) when there are none.
  std::string why;
  auto nvml = gpu::NvmlLibrary::open(config.nvml_library);
  if (nvml) {
    auto devices = (*nvml)->read_devices();
    if (!devices) {
      why = devices.error().message;
    } else if (devices->empty()) {
      why = "NVML sees no GPU";
    } else {
      spdlog::info("NVML: {} GPU(s), {}; first: {} ({} MiB)", devices->size(), (*nvml)->versions(),
                   devices->front().name, devices->front().total_mb);
      if (auto locked = lock_gpus(*devices, config.gpu_lock_dir, gpu_locks); !locked) {
        return locked.error();
      }
      for (const gpu::NvmlDevice& d : *devices) {
        if (!d.processes_known) {
          spdlog::warn(
              "GPU {} ({}) does not list its processes: jobs on it count as their "
              "reservations; no measured use, attribution or enforcement there",
              d.index, d.name);
        }
      }
      return std::unique_ptr<gpu::GpuSource>(
          std::make_unique<gpu::NvmlGpuSource>(std::move(*nvml)));
    }
  } else {
    why = nvml.error().message;
  }
  if (spec == "nvml") {
    return core::Error{"--gpus nvml: " + why +
                       "; run with --gpus sim:24GiB to simulate GPUs, or --gpus auto"};
  }
  std::fprintf(stderr,
               "\n*****************************************************************\n"
               "*  vramq: NO REAL GPU: %s.\n"
               "*  SIMULATING one 24 GiB GPU (--gpus sim:24GiB). Admission follows\n"
               "*  simulated readings, not real GPU memory.\n"
               "*****************************************************************\n\n",
               why.c_str());
  return std::unique_ptr<gpu::GpuSource>(
      std::make_unique<gpu::SimGpuSource>(std::vector<std::int64_t>{24576}));
}

// The cluster's GPUs; the config adapted to them.
core::Result<std::unique_ptr<gpu::GpuSource>> open_cluster(core::Config& config,
                                                           const std::string& slurm_prefix) {
  // Slurm's counts are the bound on each GPU; nothing is kept back on top of them.
  config.vram_buffer_mb = 0;
  // The cluster's GPUs are read through its controller: no more often than its queue.
  config.gpu_poll_ms = std::max(config.gpu_poll_ms, config.slurm_poll_ms);
  if (config.slurm_vram == "vram") {
    spdlog::warn(
        "slurm_vram = vram: Slurm counts this VRAM per node, not per GPU; it is exact only on "
        "nodes with one GPU (use shards on nodes with several)");
  }
  return std::unique_ptr<gpu::GpuSource>(
      std::make_unique<gpu::SlurmGpuSource>(core::slurm_settings(config), slurm_prefix, 30'000));
}

}  // namespace

core::Result<std::unique_ptr<gpu::GpuSource>> open_gpus(core::Config& config,
                                                        const core::TaskCatalog& catalog,
                                                        const std::string& slurm_prefix,
                                                        std::vector<HostLock>& locks) {
  bool slurm = config.executor == "slurm";
  auto gpus = slurm ? open_cluster(config, slurm_prefix) : make_gpu_source(config, locks);
  if (!gpus) return gpus.error();
  auto first = (*gpus)->sample({});
  if (slurm && !first) {
    return core::Error{fmt::format("--executor slurm: {} (is SLURM_CONF set, and slurmctld up?)",
                                   first.error().message)};
  }
  if (slurm && first->gpus.empty()) {
    return core::Error{
        "--executor slurm: no node of the cluster has GPUs (Gres=gpu:N with shard or vram counts "
        "in slurm.conf)"};
  }
  if (first) {
    std::vector<std::int64_t> totals;
    for (const gpu::GpuInfo& g : first->gpus)
      totals.push_back(g.total_mb);
    core::StartupReport report = core::check_against_gpus(config, catalog, totals);
    for (const std::string& w : report.warnings)
      spdlog::warn("{}", w);
    for (std::size_t i = 0; i + 1 < report.errors.size(); ++i)
      spdlog::error("{}", report.errors[i]);
    if (!report.errors.empty()) return core::Error{report.errors.back()};
  }
  return gpus;
}

}  // namespace vramq::app
