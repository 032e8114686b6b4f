#include "gpu/sim_gpu_source.hpp"

#include <fmt/format.h>

#include "util/untrusted_files.hpp"

namespace vramq::gpu {

core::Result<GpuSample> SimGpuSource::sample(std::span<const JobProbe> jobs) {
  GpuSample s;
  for (std::size_t i = 0; i < totals_mb_.size(); ++i) {
    s.gpus.push_back({.index = static_cast<int>(i),
                      .uuid = fmt::format("GPU-5a1a0000-0000-4000-8000-{:012d}", i),
                      .name = "vramq simulated GPU",
                      .total_mb = totals_mb_[i]});
  }
  for (const JobProbe& j : jobs) {
    // A simulated job reports one figure: its use on each of its GPUs.
    std::optional<std::int64_t> used = util::read_mb_file(j.sim_vram_file);
    for (int g : j.gpus) {
      if (g < 0 || g >= static_cast<int>(s.gpus.size())) continue;
      if (used) s.job_used_mb[j.job][g] = *used;
      s.gpus[g].used_mb += used.value_or(j.reservation_mb);
    }
  }
  return s;
}

}  // namespace vramq::gpu
