#pragma once
// The GPUs a server manages, at its start: simulated (sim:SPEC), real through NVML (each locked
// on the host: one vramq per GPU), or a Slurm cluster's; read once and checked against the
// config and the catalog before anything is admitted.

#include <memory>
#include <string>
#include <vector>

#include "app/host_lock.hpp"
#include "core/config.hpp"
#include "core/task_catalog.hpp"
#include "gpu/gpu_source.hpp"

namespace vramq::app {

// Opens the GPU source the config names; under Slurm it also adapts the config (no buffer on top
// of Slurm's counts, GPU readings no more often than the queue's). `locks` receives the locks of
// the NVML GPUs, held for the life of the server.
core::Result<std::unique_ptr<gpu::GpuSource>> open_gpus(core::Config& config,
                                                        const core::TaskCatalog& catalog,
                                                        const std::string& slurm_prefix,
                                                        std::vector<HostLock>& locks);

}  // namespace vramq::app
