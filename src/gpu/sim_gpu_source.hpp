#pragma once
// Simulated GPUs (`--gpus sim:SPEC`): fixed totals, no foreign use, and each job's use is what it
// last wrote (decimal MiB) to its VRAMQ_SIM_VRAM_FILE, or its reservation without a report.

#include <vector>

#include "gpu/gpu_source.hpp"

namespace vramq::gpu {

class SimGpuSource final : public GpuSource {
 public:
  explicit SimGpuSource(std::vector<std::int64_t> totals_mb) : totals_mb_(std::move(totals_mb)) {}
  std::string_view kind() const override { return "sim"; }
  core::Result<GpuSample> sample(std::span<const JobProbe> jobs) override;

 private:
  std::vector<std::int64_t> totals_mb_;
};

}  // namespace vramq::gpu
