#pragma once
// NVIDIA's management library, loaded at run time with dlopen: no CUDA or NVML header is needed
// to build vramq, and a machine without the driver still runs it (simulated GPUs). The few
// functions and structs used are declared here by hand with NVML's C ABI (nvml.h, R525+).
// Newer entry points are preferred and older ones used where a driver lacks them:
// memory v2 -> v1, running compute processes v3 -> v2 -> v1.
// Blocking (driver calls can stall): use from one worker thread only.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/error.hpp"

namespace vramq::gpu {

struct NvmlProcess {
  std::int64_t pid = 0;
  std::int64_t used_mb = -1;  // -1: NVML cannot say (NVML_VALUE_NOT_AVAILABLE)
};

struct NvmlDevice {
  int index = 0;
  std::string uuid;
  std::string name;
  std::int64_t total_mb = 0;
  std::int64_t used_mb = 0;
  std::int64_t free_mb = 0;
  std::vector<NvmlProcess> processes;  // running compute processes
  // False when the driver does not list processes on this device (NVML_ERROR_NOT_SUPPORTED on
  // some GPUs and virtualised setups): then nothing can be attributed by process.
  bool processes_known = true;
  // Set when this GPU could not be read (NVML_ERROR_GPU_IS_LOST: fallen off the bus): the other
  // fields are then empty, and the other GPUs are read all the same.
  std::string error;
};

class NvmlLibrary {
 public:
  // Loads `path` (default: the driver's soname, found through the usual library search path,
  // LD_LIBRARY_PATH included) and initializes NVML. The error says what failed and why.
  static core::Result<std::unique_ptr<NvmlLibrary>> open(
      const std::string& path = "libnvidia-ml.so.1");
  ~NvmlLibrary();
  NvmlLibrary(const NvmlLibrary&) = delete;
  NvmlLibrary& operator=(const NvmlLibrary&) = delete;

  // Every device with its memory and compute processes, now; a device that cannot be read says
  // why in its `error`. After a failed reading, or one with such a device, the library is
  // re-initialised (nvmlShutdown + nvmlInit) before the next reading, then at most every
  // kReinitInterval: a GPU that was lost and came back (a reset) answers only to a fresh
  // initialisation. A device list whose length changed is an error (indexes could have moved).
  core::Result<std::vector<NvmlDevice>> read_devices();

  // Which versions of the optional entry points this driver has, e.g. "memory v2, processes v3".
  std::string versions() const;

  struct Api;  // the resolved entry points (defined in the .cpp)

 private:
  NvmlLibrary(void* handle, std::unique_ptr<Api> api);
  core::Result<std::vector<NvmlDevice>> read_devices_once();
  // Reads device `i` into `d`; what failed, or "" when it was read.
  static std::string read_device(const Api& a, unsigned int i, NvmlDevice& d);
  static constexpr std::chrono::seconds kReinitInterval{5};
  void* handle_;
  std::unique_ptr<Api> api_;
  bool reinit_ = false;
  std::chrono::steady_clock::time_point next_reinit_{};
  int first_count_ = -1;  // devices listed by the first reading
};

}  // namespace vramq::gpu
