#include "gpu/nvml_gpu_source.hpp"

#include "gpu/attribution.hpp"
#include "util/proc_stat.hpp"

namespace vramq::gpu {

core::Result<GpuSample> NvmlGpuSource::sample(std::span<const JobProbe> jobs) {
  auto devices = nvml_->read_devices();
  if (!devices) return devices.error();
  return attribute(*devices, jobs,
                   [](std::int64_t pid) { return util::read_proc_stat(static_cast<pid_t>(pid)); });
}

}  // namespace vramq::gpu
