#pragma once
// Real GPUs (`--gpus nvml`): every reading asks NVML for each device's memory and compute
// processes and attributes them to vramq's jobs (gpu/attribution.hpp) through /proc.
// Blocking, like every GpuSource: called from the GPU worker thread only.

#include <memory>

#include "gpu/gpu_source.hpp"
#include "gpu/nvml_library.hpp"

namespace vramq::gpu {

class NvmlGpuSource final : public GpuSource {
 public:
  explicit NvmlGpuSource(std::unique_ptr<NvmlLibrary> nvml) : nvml_(std::move(nvml)) {}
  std::string_view kind() const override { return "nvml"; }
  core::Result<GpuSample> sample(std::span<const JobProbe> jobs) override;

 private:
  std::unique_ptr<NvmlLibrary> nvml_;
};

}  // namespace vramq::gpu
