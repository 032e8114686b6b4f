#include "util/proc_stat.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

namespace vramq::util {
namespace {

TEST(ReadProcStat, ReadsThisProcess) {
  auto self = read_proc_stat(::getpid());
  ASSERT_TRUE(self);
  EXPECT_EQ(self->ppid, ::getppid());
  EXPECT_EQ(self->pgid, ::getpgrp());
  EXPECT_EQ(self->comm, "vramq-unit-test");  // the kernel keeps 15 bytes of the name
  EXPECT_EQ(process_start_ticks(::getpid()), self->start_ticks);
  EXPECT_GT(self->start_ticks, 0);
  EXPECT_FALSE(read_proc_stat(0x7ffffff0));
}

TEST(KillGroupIfSame, NeverSignalsAnotherProcessOrInit) {
  EXPECT_FALSE(kill_group_if_same(1, 0));
  EXPECT_FALSE(kill_group_if_same(0x7ffffff0, 0));
  // This process's own group, with a start time that is not its leader's: left alone.
  auto self = read_proc_stat(::getpgrp());
  ASSERT_TRUE(self);
  EXPECT_FALSE(kill_group_if_same(::getpgrp(), self->start_ticks + 1));
}

}  // namespace
}  // namespace vramq::util
