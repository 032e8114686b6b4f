#include "app/host_lock.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "temp_dir.hpp"

namespace vramq::app {
namespace {

TEST(HostLock, SecondHolderIsRefusedWithTheFirstOnesPid) {
  testing::TempDir dir;
  std::string path = (dir.path() / "vramq.lock").string();
  auto first = HostLock::acquire(path, "the data directory X");
  ASSERT_TRUE(first) << first.error().message;
  std::ifstream in(path);
  std::string pid;
  in >> pid;
  EXPECT_EQ(pid, std::to_string(::getpid()));

  auto second = HostLock::acquire(path, "the data directory X");
  ASSERT_FALSE(second);
  EXPECT_NE(second.error().message.find("the data directory X is in use by another vramq (PID " +
                                        pid + ", lock file " + path + ")"),
            std::string::npos)
      << second.error().message;
}

TEST(HostLock, ReleasedWhenTheHolderGoes) {
  testing::TempDir dir;
  std::string path = (dir.path() / "gpu.lock").string();
  {
    auto held = HostLock::acquire(path, "GPU 0");
    ASSERT_TRUE(held);
  }
  auto again = HostLock::acquire(path, "GPU 0");
  EXPECT_TRUE(again);
  HostLock moved = std::move(*again);  // moving keeps it held
  EXPECT_FALSE(HostLock::acquire(path, "GPU 0"));
}

TEST(HostLock, UnopenableFileIsAnErrorThatSaysSo) {
  auto lock = HostLock::acquire("/nonexistent-dir/x.lock", "GPU 1");
  ASSERT_FALSE(lock);
  EXPECT_NE(lock.error().message.find("cannot open the lock file"), std::string::npos);
}

}  // namespace
}  // namespace vramq::app
