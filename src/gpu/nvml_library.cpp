#include "gpu/nvml_library.hpp"

#include <dlfcn.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include <algorithm>
#include <array>
#include <optional>

namespace vramq::gpu {
namespace {

// ---- NVML's C ABI, declared from the public API reference (nvml.h) ----
using nvmlReturn_t = int;
constexpr nvmlReturn_t NVML_SUCCESS = 0;
constexpr nvmlReturn_t NVML_ERROR_NOT_SUPPORTED = 3;
constexpr nvmlReturn_t NVML_ERROR_INSUFFICIENT_SIZE = 7;
using nvmlDevice_t = struct nvmlDevice_st*;

struct nvmlMemory_t {
  unsigned long long total;
  unsigned long long free;
  unsigned long long used;
};
struct nvmlMemory_v2_t {
  unsigned int version;
  unsigned long long total;
  unsigned long long reserved;
  unsigned long long free;
  unsigned long long used;
};
// NVML_STRUCT_VERSION(Memory, 2): the struct's size with the version in the top byte.
constexpr unsigned int kMemoryV2Version =
    static_cast<unsigned int>(sizeof(nvmlMemory_v2_t)) | (2U << 24U);
static_assert(sizeof(nvmlMemory_v2_t) == 40 && kMemoryV2Version == 0x02000028);

struct nvmlProcessInfo_v1_t {
  unsigned int pid;
  unsigned long long usedGpuMemory;
};
// The layout of both _v2 and _v3 of nvmlDeviceGetComputeRunningProcesses.
struct nvmlProcessInfo_v2_t {
  unsigned int pid;
  unsigned long long usedGpuMemory;
  unsigned int gpuInstanceId;
  unsigned int computeInstanceId;
};
static_assert(sizeof(nvmlProcessInfo_v1_t) == 16 && sizeof(nvmlProcessInfo_v2_t) == 24);
constexpr unsigned long long NVML_VALUE_NOT_AVAILABLE = ~0ULL;
constexpr unsigned int kUuidSize = 96;  // NVML_DEVICE_UUID_V2_BUFFER_SIZE
constexpr unsigned int kNameSize = 96;  // NVML_DEVICE_NAME_V2_BUFFER_SIZE

using InitFn = nvmlReturn_t (*)();
using ErrorStringFn = const char* (*)(nvmlReturn_t);
using CountFn = nvmlReturn_t (*)(unsigned int*);
using HandleFn = nvmlReturn_t (*)(unsigned int, nvmlDevice_t*);
using TextFn = nvmlReturn_t (*)(nvmlDevice_t, char*, unsigned int);
using MemoryFn = nvmlReturn_t (*)(nvmlDevice_t, nvmlMemory_t*);
using MemoryV2Fn = nvmlReturn_t (*)(nvmlDevice_t, nvmlMemory_v2_t*);
using ProcessesV1Fn = nvmlReturn_t (*)(nvmlDevice_t, unsigned int*, nvmlProcessInfo_v1_t*);
using ProcessesV2Fn = nvmlReturn_t (*)(nvmlDevice_t, unsigned int*, nvmlProcessInfo_v2_t*);

std::int64_t to_mb(unsigned long long bytes) {
  return static_cast<std::int64_t>(bytes / (1024ULL * 1024ULL));
}

}  // namespace

struct NvmlLibrary::Api {
  InitFn init = nullptr;
  InitFn shutdown = nullptr;
  ErrorStringFn error_string = nullptr;
  CountFn count = nullptr;
  HandleFn handle = nullptr;
  TextFn uuid = nullptr;
  TextFn name = nullptr;
  MemoryFn memory = nullptr;
  MemoryV2Fn memory_v2 = nullptr;     // optional
  ProcessesV2Fn processes = nullptr;  // _v3 or _v2 (same struct), else null
  ProcessesV1Fn processes_v1 = nullptr;
  int processes_version = 0;

  std::string error(const char* what, nvmlReturn_t rc) const {
    const char* text = error_string != nullptr ? error_string(rc) : nullptr;
    return fmt::format("NVML {} failed: {} ({})", what, text != nullptr ? text : "unknown error",
                       rc);
  }
};

namespace {

template <typename Fn>
Fn find(void* handle, const char* name) {
  return reinterpret_cast<Fn>(::dlsym(handle, name));
}

// Running compute processes through either struct layout. The list can grow between NVML's size
// check and the copy (INSUFFICIENT_SIZE): retried with more room a few times. nullopt: the
// device does not list processes.
template <typename Info>
core::Result<std::optional<std::vector<NvmlProcess>>> read_processes(
    const NvmlLibrary::Api& a, nvmlReturn_t (*fn)(nvmlDevice_t, unsigned int*, Info*),
    nvmlDevice_t dev) {
  unsigned int room = 16;
  for (int attempt = 0; attempt < 5; ++attempt) {
    std::vector<Info> infos(room);
    unsigned int n = room;
    nvmlReturn_t rc = fn(dev, &n, infos.data());
    if (rc == NVML_ERROR_INSUFFICIENT_SIZE) {
      room = std::max(n, room) * 2;
      continue;
    }
    if (rc == NVML_ERROR_NOT_SUPPORTED) return std::optional<std::vector<NvmlProcess>>();
    if (rc != NVML_SUCCESS) return core::Error{a.error("running processes", rc)};
    std::vector<NvmlProcess> out;
    for (unsigned int p = 0; p < n && p < room; ++p) {
      out.push_back({.pid = infos[p].pid,
                     .used_mb = infos[p].usedGpuMemory == NVML_VALUE_NOT_AVAILABLE
                                    ? -1
                                    : to_mb(infos[p].usedGpuMemory)});
    }
    return std::optional(std::move(out));
  }
  return core::Error{"NVML running processes: the list kept growing while being read"};
}

}  // namespace

core::Result<std::unique_ptr<NvmlLibrary>> NvmlLibrary::open(const std::string& path) {
  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = ::dlerror();
    return core::Error{fmt::format("cannot load {} (is the NVIDIA driver installed?): {}", path,
                                   why != nullptr ? why : "unknown error")};
  }
  auto api = std::make_unique<Api>();
  api->init = find<InitFn>(handle, "nvmlInit_v2");
  if (api->init == nullptr) api->init = find<InitFn>(handle, "nvmlInit");
  api->shutdown = find<InitFn>(handle, "nvmlShutdown");
  api->error_string = find<ErrorStringFn>(handle, "nvmlErrorString");
  api->count = find<CountFn>(handle, "nvmlDeviceGetCount_v2");
  if (api->count == nullptr) api->count = find<CountFn>(handle, "nvmlDeviceGetCount");
  api->handle = find<HandleFn>(handle, "nvmlDeviceGetHandleByIndex_v2");
  if (api->handle == nullptr) api->handle = find<HandleFn>(handle, "nvmlDeviceGetHandleByIndex");
  api->uuid = find<TextFn>(handle, "nvmlDeviceGetUUID");
  api->name = find<TextFn>(handle, "nvmlDeviceGetName");
  api->memory = find<MemoryFn>(handle, "nvmlDeviceGetMemoryInfo");
  api->memory_v2 = find<MemoryV2Fn>(handle, "nvmlDeviceGetMemoryInfo_v2");
  if ((api->processes = find<ProcessesV2Fn>(handle, "nvmlDeviceGetComputeRunningProcesses_v3"))) {
    api->processes_version = 3;
  } else if ((api->processes =
                  find<ProcessesV2Fn>(handle, "nvmlDeviceGetComputeRunningProcesses_v2"))) {
    api->processes_version = 2;
  } else if ((api->processes_v1 =
                  find<ProcessesV1Fn>(handle, "nvmlDeviceGetComputeRunningProcesses"))) {
    api->processes_version = 1;
  }
  const char* missing = api->init == nullptr       ? "nvmlInit"
                        : api->shutdown == nullptr ? "nvmlShutdown"
                        : api->count == nullptr    ? "nvmlDeviceGetCount"
                        : api->handle == nullptr   ? "nvmlDeviceGetHandleByIndex"
                        : api->uuid == nullptr     ? "nvmlDeviceGetUUID"
                        : api->name == nullptr     ? "nvmlDeviceGetName"
                        : api->memory == nullptr && api->memory_v2 == nullptr
                            ? "nvmlDeviceGetMemoryInfo"
                        : api->processes_version == 0 ? "nvmlDeviceGetComputeRunningProcesses"
                                                      : nullptr;
  if (missing != nullptr) {
    ::dlclose(handle);
    return core::Error{fmt::format("{} has no {}: not a usable NVML library", path, missing)};
  }
  if (nvmlReturn_t rc = api->init(); rc != NVML_SUCCESS) {
    std::string why = api->error("init", rc);
    ::dlclose(handle);
    return core::Error{why};
  }
  return std::unique_ptr<NvmlLibrary>(new NvmlLibrary(handle, std::move(api)));
}

NvmlLibrary::NvmlLibrary(void* handle, std::unique_ptr<Api> api)
    : handle_(handle), api_(std::move(api)) {}

NvmlLibrary::~NvmlLibrary() {
  api_->shutdown();
  ::dlclose(handle_);
}

std::string NvmlLibrary::versions() const {
  return fmt::format("memory v{}, processes v{}", api_->memory_v2 != nullptr ? 2 : 1,
                     api_->processes_version);
}

core::Result<std::vector<NvmlDevice>> NvmlLibrary::read_devices() {
  auto now = std::chrono::steady_clock::now();
  if (reinit_ && now >= next_reinit_) {
    // After a failed reading (a GPU lost and back, e.g. after a reset or a driver reload) the
    // library's handles are stale: NVML only answers again once shut down and initialised anew.
    // At once after the first failure, then at most every kReinitInterval while a GPU stays
    // lost: initialising takes long on a large machine, and the other GPUs' readings wait.
    next_reinit_ = now + kReinitInterval;
    api_->shutdown();
    if (nvmlReturn_t rc = api_->init(); rc != NVML_SUCCESS)
      return core::Error{api_->error("init", rc)};
    reinit_ = false;
  }
  auto devices = read_devices_once();
  if (!devices ||
      std::ranges::any_of(*devices, [](const NvmlDevice& d) { return !d.error.empty(); })) {
    reinit_ = true;
  }
  if (!devices) return devices;
  if (first_count_ < 0) first_count_ = static_cast<int>(devices->size());
  if (static_cast<int>(devices->size()) != first_count_) {
    // GPUs are known by index; a device list that changed length may have renumbered them.
    return core::Error{fmt::format("the driver now lists {} GPUs, {} at start: restart vramq",
                                   devices->size(), first_count_)};
  }
  return devices;
}

core::Result<std::vector<NvmlDevice>> NvmlLibrary::read_devices_once() {
  const Api& a = *api_;
  unsigned int count = 0;
  if (nvmlReturn_t rc = a.count(&count); rc != NVML_SUCCESS)
    return core::Error{a.error("device count", rc)};
  std::vector<NvmlDevice> out;
  for (unsigned int i = 0; i < count; ++i) {
    NvmlDevice d{.index = static_cast<int>(i)};
    // One GPU that cannot be read (lost, off the bus) is reported as such; the others are read.
    if (auto error = read_device(a, i, d); !error.empty()) {
      d = NvmlDevice{.index = static_cast<int>(i)};
      d.error = std::move(error);
    }
    out.push_back(std::move(d));
  }
  return out;
}

std::string NvmlLibrary::read_device(const Api& a, unsigned int i, NvmlDevice& d) {
  nvmlDevice_t dev = nullptr;
  if (nvmlReturn_t rc = a.handle(i, &dev); rc != NVML_SUCCESS)
    return a.error(fmt::format("device {} handle", i).c_str(), rc);
  std::array<char, kUuidSize> uuid{};
  std::array<char, kNameSize> name{};
  if (nvmlReturn_t rc = a.uuid(dev, uuid.data(), kUuidSize); rc != NVML_SUCCESS)
    return a.error("UUID", rc);
  if (nvmlReturn_t rc = a.name(dev, name.data(), kNameSize); rc != NVML_SUCCESS)
    return a.error("name", rc);
  d.uuid = std::string(uuid.data());
  d.name = std::string(name.data());
  // v2 reports driver-reserved memory apart from `used`; count it as used all the same: it is
  // not available to jobs either way.
  nvmlMemory_v2_t m2{};
  m2.version = kMemoryV2Version;
  if (a.memory_v2 != nullptr && a.memory_v2(dev, &m2) == NVML_SUCCESS) {
    d.total_mb = to_mb(m2.total);
    d.free_mb = to_mb(m2.free);
    d.used_mb = d.total_mb - d.free_mb;
  } else {
    nvmlMemory_t m{};
    if (a.memory == nullptr) return "NVML memory query v2 failed and no v1";
    if (nvmlReturn_t rc = a.memory(dev, &m); rc != NVML_SUCCESS) return a.error("memory info", rc);
    d.total_mb = to_mb(m.total);
    d.free_mb = to_mb(m.free);
    d.used_mb = d.total_mb - d.free_mb;
  }
  auto processes = a.processes != nullptr ? read_processes(a, a.processes, dev)
                                          : read_processes(a, a.processes_v1, dev);
  if (!processes) return processes.error().message;
  d.processes_known = processes->has_value();
  if (*processes) d.processes = std::move(**processes);
  return {};
}

}  // namespace vramq::gpu
