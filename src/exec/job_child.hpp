#pragma once
// The job's process between fork and exec, in the supervisor (vramq-supervise): its own process
// group, the user it runs as, its parent-death signal, its stdio, umask and working directory,
// default signal dispositions and none of the supervisor's descriptors. Boost-free, system
// calls only in the child.

#include <sys/types.h>

#include <cstddef>
#include <cstdint>

namespace vramq::exec {

// What the job's process needs between vfork() and execve(): prepared before the vfork, since
// the child shares the supervisor's memory and only makes system calls until it execs (as
// posix_spawn does), so that starting a job costs no copy of the supervisor.
struct ChildStart {
  pid_t parent = 0;
  const char* program = nullptr;
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  int out_fds[2] = {-1, -1};  // become stdout and stderr (the pipes' write ends)
  int in_fd = -1;             // becomes stdin (-1: /dev/null)
  const char* cwd = nullptr;
  int umask = -1;  // -1: leave it
  // The user to run as (uid < 0: the supervisor's own), with all its groups.
  std::int64_t uid = -1;
  std::int64_t gid = -1;
  const gid_t* groups = nullptr;
  std::size_t group_count = 0;
  volatile int error = 0;             // set by the child when it cannot exec
  volatile bool user_failed = false;  // ... because it could not become the user
  // A forked child (not vforked: it shares no memory) writes {error, user_failed} here instead
  // (close-on-exec: an exec that works closes it unwritten).
  int report_fd = -1;
};

// Starts the job's process as `c` says and returns its PID (-1 with errno when no process could
// be made). c.error is set when it could not exec (c.user_failed: it could not become its user).
// A job of the supervisor's own user is vforked (no copy of the supervisor: posix_spawn cannot
// set PR_SET_PDEATHSIG); one that runs as another user is forked (see job_child.cpp).
pid_t start_job_process(ChildStart& c);

}  // namespace vramq::exec
