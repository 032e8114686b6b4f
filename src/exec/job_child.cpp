#include "exec/job_child.hpp"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace vramq::exec {
namespace {

// Becomes c's user for good (real, effective and saved ids: nothing to go back to); errno on a
// failure. Only system calls (after vfork): the supervisor has one thread, so the libc wrappers
// make no cross-thread broadcast.
int become_user(const ChildStart& c) {
  if (::setgroups(c.group_count, c.groups) != 0) return errno;
  auto gid = static_cast<gid_t>(c.gid);
  auto uid = static_cast<uid_t>(c.uid);
  if (::setresgid(gid, gid, gid) != 0 || ::setresuid(uid, uid, uid) != 0) return errno;
  return 0;
}

[[noreturn]] void start_child(ChildStart& c) {
  // The job: its own process group; dies with the supervisor, whatever kills it.
  ::setpgid(0, 0);
  int err = 0;
  if (c.uid >= 0) {
    err = become_user(c);
    c.user_failed = err != 0;
  }
  // After the change of user, which clears the parent-death signal.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != c.parent) ::_exit(127);
  int in = c.in_fd >= 0 ? c.in_fd : ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (err == 0 && (in < 0 || ::dup3(in, 0, 0) < 0)) err = errno;
  if (in > 0 && in != c.in_fd) ::close(in);
  for (int target = 1; target <= 2 && err == 0; ++target) {
    if (::dup3(c.out_fds[target - 1], target, 0) < 0) err = errno;
  }
  if (c.umask >= 0) ::umask(static_cast<mode_t>(c.umask));
  if (err == 0 && c.cwd != nullptr && ::chdir(c.cwd) != 0) err = errno;
  if (err == 0) {
    // Default dispositions and an empty mask, whatever the supervisor blocks or ignores (it
    // ignores SIGPIPE only; exec resets the rest), and none of its descriptors.
    ::signal(SIGPIPE, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
    ::execve(c.program, c.argv, c.envp);
    err = errno;
  }
  c.error = err;
  if (c.report_fd >= 0) {
    const int report[2] = {err, c.user_failed ? 1 : 0};
    (void)!::write(c.report_fd, report, sizeof report);
  }
  ::_exit(127);
}

// Forks the child of a job that runs as another user. Not vfork: from its change of user to its
// exec a process of that user must share no memory with the supervisor (root), which it could
// write with ptrace where fs.suid_dumpable allows. The child says over a pipe why it could not
// exec; one that says nothing for kStartTimeoutMs (stopped by its user) is killed.
pid_t fork_child(ChildStart& child) {
  constexpr int kStartTimeoutMs = 30'000;
  int report[2] = {-1, -1};
  if (::pipe2(report, O_CLOEXEC) != 0) return -1;
  child.report_fd = report[1];
  pid_t pid = ::fork();
  if (pid == 0) start_child(child);
  int fork_errno = errno;
  ::close(report[1]);
  if (pid > 0) {
    int got[2] = {0, 0};
    std::size_t have = 0;
    pollfd p{.fd = report[0], .events = POLLIN, .revents = 0};
    while (have < sizeof got) {
      int ready = ::poll(&p, 1, kStartTimeoutMs);
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0) {
        ::kill(pid, SIGKILL);
        got[0] = ETIMEDOUT;
        have = sizeof got;
        break;
      }
      ssize_t n = ::read(report[0], reinterpret_cast<char*>(got) + have, sizeof got - have);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;  // closed by its exec (or it died): no report
      have += static_cast<std::size_t>(n);
    }
    if (have == sizeof got) {
      child.error = got[0];
      child.user_failed = got[1] != 0;
    }
  }
  ::close(report[0]);
  errno = fork_errno;
  return pid;
}

}  // namespace

pid_t start_job_process(ChildStart& c) {
  if (c.uid >= 0) return fork_child(c);
  pid_t pid = ::vfork();         // NOLINT(clang-analyzer-security.insecureAPI.vfork)
  if (pid == 0) start_child(c);  // NOLINT(clang-analyzer-unix.Vfork): system calls only
  return pid;
}

}  // namespace vramq::exec
