#include "util/proc_stat.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
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

TEST(KillGroupIfSame, OnlyTheSameLeaderIsKilledNeverInit) {
  EXPECT_FALSE(kill_group_if_same(1, 0));
  EXPECT_FALSE(kill_group_if_same(0x7ffffff0, 0));
  // A child leading a group of its own: a start time that is not its own leaves it alone.
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::setpgid(0, 0);
    ::pause();
    ::_exit(0);
  }
  ::setpgid(child, child);  // either side may win; both ask for the same
  std::optional<std::int64_t> ticks;
  for (int i = 0; i < 200 && (!ticks || read_proc_stat(child)->pgid != child); ++i) {
    ticks = process_start_ticks(child);
    ::usleep(1000);
  }
  ASSERT_TRUE(ticks);
  EXPECT_FALSE(kill_group_if_same(child, *ticks + 1));
  EXPECT_EQ(::kill(child, 0), 0) << "still alive";
  EXPECT_TRUE(kill_group_if_same(child, *ticks));
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

// The leader died and was reaped (a lost run's job, killed with its supervisor) while a helper
// lives on in its group: the group is still the leader's (Linux keeps the PID while a group has
// it), so it is killed.
TEST(KillGroupIfSame, AGroupWhoseLeaderWasReapedIsStillKilled) {
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);  // the helper comes back here when its parent ends
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  pid_t leader = ::fork();
  ASSERT_GE(leader, 0);
  if (leader == 0) {
    ::setpgid(0, 0);
    pid_t helper = ::fork();
    if (helper == 0) {
      ::pause();
      ::_exit(0);
    }
    (void)!::write(fds[1], &helper, sizeof helper);
    ::_exit(0);
  }
  pid_t helper = 0;
  ASSERT_EQ(::read(fds[0], &helper, sizeof helper), static_cast<ssize_t>(sizeof helper));
  ::close(fds[0]);
  ::close(fds[1]);
  std::optional<std::int64_t> ticks = process_start_ticks(leader);  // a zombie still has them
  ASSERT_EQ(::waitpid(leader, nullptr, 0), leader);
  EXPECT_FALSE(process_start_ticks(leader)) << "reaped";
  EXPECT_TRUE(kill_group_if_same(leader, ticks.value_or(0)));
  int status = 0;
  ASSERT_EQ(::waitpid(helper, &status, 0), helper);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  ::prctl(PR_SET_CHILD_SUBREAPER, 0);
}

}  // namespace
}  // namespace vramq::util
