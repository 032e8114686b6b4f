// NvmlLibrary against the fake driver (tests/fakes/fake_nvml.c): the hand-declared ABI reads
// devices, memory and processes through both the current and the oldest entry points, grows its
// buffer when the process list is long, and reports load and query failures as errors.
#include "gpu/nvml_library.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <fstream>

#include "temp_dir.hpp"

extern char** environ;

namespace vramq::gpu {
namespace {

class NvmlLibraryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(dir_.path() / "procs");
    std::ofstream(dir_.path() / "devices") << "GPU-aaa 24576 512 NVIDIA Fake L4\n"
                                           << "GPU-bbb 81920 0 NVIDIA Fake H100\n";
    ::setenv("FAKE_NVML_DIR", dir_.path().c_str(), 1);
  }
  void TearDown() override {
    for (pid_t p : sleepers_) {
      ::kill(p, SIGKILL);
      ::waitpid(p, nullptr, 0);
    }
    ::unsetenv("FAKE_NVML_DIR");
  }
  // A live process that the fake driver shows on GPU `uuid` with `mib`.
  pid_t gpu_process(const std::string& uuid, const std::string& mib) {
    pid_t pid = 0;
    const char* argv[] = {"sleep", "60", nullptr};
    EXPECT_EQ(::posix_spawnp(&pid, "sleep", nullptr, nullptr, const_cast<char**>(argv), environ),
              0);
    sleepers_.push_back(pid);
    std::ofstream(dir_.path() / "procs" / std::to_string(pid)) << uuid << " " << mib << "\n";
    return pid;
  }

  testing::TempDir dir_;
  std::vector<pid_t> sleepers_;
};

TEST_F(NvmlLibraryTest, ReadsDevicesMemoryAndProcesses) {
  pid_t a = gpu_process("GPU-aaa", "3000");
  pid_t b = gpu_process("GPU-bbb", "-");
  auto nvml = NvmlLibrary::open(VRAMQ_FAKE_NVML_PATH);
  ASSERT_TRUE(nvml) << nvml.error().message;
  EXPECT_EQ((*nvml)->versions(), "memory v2, processes v3");
  auto devices = (*nvml)->read_devices();
  ASSERT_TRUE(devices) << devices.error().message;
  ASSERT_EQ(devices->size(), 2U);
  const NvmlDevice& d0 = (*devices)[0];
  EXPECT_EQ(d0.uuid, "GPU-aaa");
  EXPECT_EQ(d0.name, "NVIDIA Fake L4");
  EXPECT_EQ(d0.total_mb, 24576);
  EXPECT_EQ(d0.used_mb, 3512);
  EXPECT_EQ(d0.free_mb, 24576 - 3512);
  ASSERT_EQ(d0.processes.size(), 1U);
  EXPECT_EQ(d0.processes[0].pid, a);
  EXPECT_EQ(d0.processes[0].used_mb, 3000);
  ASSERT_EQ((*devices)[1].processes.size(), 1U);
  EXPECT_EQ((*devices)[1].processes[0].pid, b);
  EXPECT_EQ((*devices)[1].processes[0].used_mb, -1);  // NVML_VALUE_NOT_AVAILABLE
}

TEST_F(NvmlLibraryTest, FallsBackToProcessesV2WithoutV3) {
  gpu_process("GPU-aaa", "1200");
  auto nvml = NvmlLibrary::open(VRAMQ_FAKE_NVML_V2_PATH);
  ASSERT_TRUE(nvml) << nvml.error().message;
  EXPECT_EQ((*nvml)->versions(), "memory v2, processes v2");
  auto devices = (*nvml)->read_devices();
  ASSERT_TRUE(devices);
  ASSERT_EQ((*devices)[0].processes.size(), 1U);
  EXPECT_EQ((*devices)[0].processes[0].used_mb, 1200);
}

TEST_F(NvmlLibraryTest, FallsBackToTheOldestEntryPoints) {
  gpu_process("GPU-bbb", "700");
  auto nvml = NvmlLibrary::open(VRAMQ_FAKE_NVML_LEGACY_PATH);
  ASSERT_TRUE(nvml) << nvml.error().message;
  EXPECT_EQ((*nvml)->versions(), "memory v1, processes v1");
  auto devices = (*nvml)->read_devices();
  ASSERT_TRUE(devices);
  EXPECT_EQ((*devices)[1].used_mb, 700);
  ASSERT_EQ((*devices)[1].processes.size(), 1U);
  EXPECT_EQ((*devices)[1].processes[0].used_mb, 700);
}

TEST_F(NvmlLibraryTest, ReadsAProcessListLongerThanItsFirstBuffer) {
  for (int i = 0; i < 40; ++i)
    gpu_process("GPU-aaa", "10");
  auto nvml = NvmlLibrary::open(VRAMQ_FAKE_NVML_PATH);
  ASSERT_TRUE(nvml);
  auto devices = (*nvml)->read_devices();
  ASSERT_TRUE(devices);
  EXPECT_EQ((*devices)[0].processes.size(), 40U);
  EXPECT_EQ((*devices)[0].used_mb, 512 + 400);
}

TEST_F(NvmlLibraryTest, ADeviceThatListsNoProcessesStillHasReadings) {
  gpu_process("GPU-aaa", "3000");
  std::ofstream(dir_.path() / "no_processes") << "";
  for (const char* lib : {VRAMQ_FAKE_NVML_PATH, VRAMQ_FAKE_NVML_LEGACY_PATH}) {
    auto nvml = NvmlLibrary::open(lib);
    ASSERT_TRUE(nvml);
    auto devices = (*nvml)->read_devices();
    ASSERT_TRUE(devices) << devices.error().message;
    EXPECT_FALSE((*devices)[0].processes_known);
    EXPECT_TRUE((*devices)[0].processes.empty());
    EXPECT_EQ((*devices)[0].used_mb, 3512);
  }
}

TEST_F(NvmlLibraryTest, AFailingDeviceIsAnErrorNamingIt) {
  auto nvml = NvmlLibrary::open(VRAMQ_FAKE_NVML_PATH);
  ASSERT_TRUE(nvml);
  std::ofstream(dir_.path() / "fail") << "";
  auto devices = (*nvml)->read_devices();
  ASSERT_FALSE(devices);
  EXPECT_NE(devices.error().message.find("GPU is lost"), std::string::npos)
      << devices.error().message;
}

TEST_F(NvmlLibraryTest, ALostGpuAnswersAgainOnlyAfterReinitialisation) {
  // The fake, like real hardware, stays lost after the GPU comes back until NVML is
  // initialised anew: read_devices() does that after a failed reading.
  auto nvml = NvmlLibrary::open(VRAMQ_FAKE_NVML_PATH);
  ASSERT_TRUE(nvml);
  std::ofstream(dir_.path() / "fail") << "";
  EXPECT_FALSE((*nvml)->read_devices());
  std::filesystem::remove(dir_.path() / "fail");
  auto back = (*nvml)->read_devices();
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->size(), 2U);
}

TEST_F(NvmlLibraryTest, DriverReservedMemoryCountsAsUsedOnEveryVersion) {
  std::ofstream(dir_.path() / "reserved_mib") << "500\n";
  for (const char* lib : {VRAMQ_FAKE_NVML_PATH, VRAMQ_FAKE_NVML_LEGACY_PATH}) {
    auto nvml = NvmlLibrary::open(lib);
    ASSERT_TRUE(nvml) << lib;
    auto devices = (*nvml)->read_devices();
    ASSERT_TRUE(devices) << lib;
    EXPECT_EQ((*devices)[0].used_mb, 512 + 500) << lib;  // v2's `reserved` is not free either
    EXPECT_EQ((*devices)[0].free_mb, 24576 - 1012) << lib;
  }
}

TEST_F(NvmlLibraryTest, AProcesssUseIncludesItsCudaContext) {
  std::ofstream(dir_.path() / "context_mib") << "300\n";
  gpu_process("GPU-aaa", "3000");
  auto nvml = NvmlLibrary::open(VRAMQ_FAKE_NVML_PATH);
  ASSERT_TRUE(nvml);
  auto devices = (*nvml)->read_devices();
  ASSERT_TRUE(devices);
  EXPECT_EQ((*devices)[0].processes.at(0).used_mb, 3300);
  EXPECT_EQ((*devices)[0].used_mb, 512 + 3300);
}

TEST_F(NvmlLibraryTest, LoadFailuresSayWhy) {
  auto missing = NvmlLibrary::open("/nonexistent/libnvidia-ml.so.1");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("cannot load"), std::string::npos);
  auto not_nvml = NvmlLibrary::open("libm.so.6");  // loads, but has none of NVML's functions
  ASSERT_FALSE(not_nvml);
  EXPECT_NE(not_nvml.error().message.find("not a usable NVML library"), std::string::npos);
  std::filesystem::remove(dir_.path() / "devices");  // the fake's init fails without it
  auto no_init = NvmlLibrary::open(VRAMQ_FAKE_NVML_PATH);
  ASSERT_FALSE(no_init);
  EXPECT_NE(no_init.error().message.find("NVML init failed"), std::string::npos);
}

}  // namespace
}  // namespace vramq::gpu
