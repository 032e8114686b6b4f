#pragma once
// Where GPU readings come from: simulated GPUs or NVML. A source may block (NVML calls,
// file reads), so it is only ever called from the GPU poller's thread; the event loop receives
// the resulting GpuSample by value.

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "core/job.hpp"

namespace vramq::gpu {

// What the loop tells the source about one running job, so that the source can attribute use.
struct JobProbe {
  core::JobId job = 0;
  std::vector<int> gpus;  // the GPUs it runs on
  std::int64_t reservation_mb = 0;
  std::int64_t pgid = 0;
  std::string sim_vram_file;  // simulation only: where the job reports its use
  // A cluster's job (Slurm): where its batch step on the node writes its measured use.
  std::string usage_file;
};

// A process on a GPU that no vramq job accounts for.
struct GpuProcess {
  std::int64_t pid = 0;
  std::string name;
  std::int64_t used_mb = -1;  // -1: the driver cannot say
};

struct GpuInfo {
  int index = 0;
  std::string uuid;
  std::string name;
  std::string node;  // a cluster's GPU (Slurm): the node it is on ("" on this host)
  std::int64_t total_mb = 0;
  std::int64_t used_mb = 0;     // everything in use on the device
  std::int64_t foreign_mb = 0;  // used_mb minus what vramq's jobs account for
  std::vector<GpuProcess> foreign_processes;
  // Why this GPU has no reading now (NVML: lost, fallen off the bus); "" when it has one. Such a
  // GPU is unknown: nothing is admitted to it until it answers again.
  std::string error;
};

struct GpuSample {
  std::vector<GpuInfo> gpus;
  // Measured use per running job and GPU index; a job (or GPU of it) without a reading is absent
  // (it counts as using its reservation there).
  std::map<core::JobId, std::map<int, std::int64_t>> job_used_mb;
};

class GpuSource {
 public:
  virtual ~GpuSource() = default;
  virtual std::string_view kind() const = 0;  // "sim" or "nvml"
  // Blocking. Called from the poller thread only, never concurrently.
  virtual core::Result<GpuSample> sample(std::span<const JobProbe> jobs) = 0;
};

}  // namespace vramq::gpu
