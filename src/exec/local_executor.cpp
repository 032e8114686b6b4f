#include "exec/local_executor.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <cstring>

#include "exec/process_probe.hpp"
#include "exec/program_path.hpp"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

namespace vramq::exec {
namespace asio = boost::asio;

struct LocalExecutor::Child {
  pid_t pid = 0;
  asio::posix::stream_descriptor pidfd;
  ExitHandler on_exit;
};

namespace {

// RAII for the posix_spawn attribute objects.
struct SpawnSetup {
  posix_spawn_file_actions_t actions{};
  posix_spawnattr_t attr{};
  SpawnSetup() {
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;
};

std::vector<char*> c_strings(const std::vector<std::string>& v) {
  std::vector<char*> out;
  out.reserve(v.size() + 1);
  for (const std::string& s : v)
    out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

int setup_spawn(SpawnSetup& s, const LaunchSpec& spec) {
  int rc = 0;
  // A new process group (pgid = pid) so that signals reach the whole job; default signal
  // dispositions and an empty mask whatever the server itself ignores or blocks.
  sigset_t all;
  sigset_t none;
  sigfillset(&all);
  sigemptyset(&none);
  rc = rc ? rc
          : posix_spawnattr_setflags(
                &s.attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  rc = rc ? rc : posix_spawnattr_setpgroup(&s.attr, 0);
  rc = rc ? rc : posix_spawnattr_setsigmask(&s.attr, &none);
  rc = rc ? rc : posix_spawnattr_setsigdefault(&s.attr, &all);
  rc = rc ? rc : posix_spawn_file_actions_addopen(&s.actions, 0, "/dev/null", O_RDONLY, 0);
  rc = rc ? rc
          : posix_spawn_file_actions_addopen(&s.actions, 1, spec.stdout_path.c_str(),
                                             O_WRONLY | O_CREAT | O_TRUNC, 0644);
  rc = rc ? rc
          : posix_spawn_file_actions_addopen(&s.actions, 2, spec.stderr_path.c_str(),
                                             O_WRONLY | O_CREAT | O_TRUNC, 0644);
  // The server's sockets and files must not leak into jobs (a job outliving the server would
  // otherwise keep its port bound).
  rc = rc ? rc : posix_spawn_file_actions_addclosefrom_np(&s.actions, 3);
  if (!spec.cwd.empty()) {
    rc = rc ? rc : posix_spawn_file_actions_addchdir_np(&s.actions, spec.cwd.c_str());
  }
  return rc;
}

}  // namespace

LocalExecutor::LocalExecutor(asio::any_io_executor loop) : loop_(std::move(loop)) {}

LocalExecutor::~LocalExecutor() {
  // Jobs never outlive the executor unseen: whatever still runs is ended with its group.
  for (auto& [job, child] : children_)
    ::kill(-child->pid, SIGKILL);
}

boost::system::result<Launched, SpawnError> LocalExecutor::start(const LaunchSpec& spec,
                                                                 ExitHandler on_exit) {
  if (spec.argv.empty()) return SpawnError{EINVAL, "empty argv"};
  SpawnSetup setup;
  if (int rc = setup_spawn(setup, spec); rc != 0) {
    return SpawnError{rc, fmt::format("cannot prepare spawn: {}", std::strerror(rc))};
  }
  std::optional<std::string> program = find_program(spec.argv[0], path_of(spec.env), spec.cwd);
  if (!program) {
    return SpawnError{ENOENT, fmt::format("cannot run {}: not found on the job's PATH ({}); give "
                                          "the program's absolute path",
                                          spec.argv[0], path_of(spec.env))};
  }
  std::vector<char*> argv = c_strings(spec.argv);
  std::vector<char*> envp = c_strings(spec.env);
  pid_t pid = 0;
  // glibc's posix_spawn reports exec failures (ENOENT, EACCES, a bad cwd) as its return value.
  int rc =
      ::posix_spawn(&pid, program->c_str(), &setup.actions, &setup.attr, argv.data(), envp.data());
  if (rc != 0) {
    return SpawnError{rc, fmt::format("cannot run {}: {}", spec.argv[0], std::strerror(rc))};
  }
  int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) {
    int err = errno;
    ::kill(-pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return SpawnError{err, fmt::format("pidfd_open failed: {}", std::strerror(err))};
  }
  Launched launched{.pid = pid, .start_ticks = process_start_ticks(pid).value_or(0)};
  auto child = std::make_unique<Child>(Child{.pid = pid,
                                             .pidfd = asio::posix::stream_descriptor(loop_, fd),
                                             .on_exit = std::move(on_exit)});
  children_[spec.job] = std::move(child);
  watch(spec.job);
  return launched;
}

void LocalExecutor::watch(core::JobId job) {
  Child& child = *children_.at(job);
  child.pidfd.async_wait(
      asio::posix::stream_descriptor::wait_read, [this, job](const boost::system::error_code& ec) {
        if (ec == asio::error::operation_aborted) return;  // executor gone
        auto it = children_.find(job);
        if (it == children_.end()) return;
        siginfo_t info{};
        int fd = it->second->pidfd.native_handle();
        // WNOWAIT: the leader stays a zombie, so its PID (the group id) cannot
        // be reused while we kill the group.
        if (::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(fd), &info,
                     WEXITED | WNOHANG | WNOWAIT) != 0 ||
            info.si_pid == 0) {
          watch(job);  // spurious wake-up: not exited yet
          return;
        }
        // Stragglers in the group must not outlive the job (they could hold
        // VRAM unseen).
        ::kill(-it->second->pid, SIGKILL);
        ::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(fd), &info, WEXITED);
        ExitStatus status;
        if (info.si_code == CLD_EXITED) {
          status.exit_code = info.si_status;
        } else {
          status.signal = info.si_status;
        }
        ExitHandler handler = std::move(it->second->on_exit);
        children_.erase(it);
        handler(status);
      });
}

void LocalExecutor::signal_group(core::JobId job, int sig) {
  auto it = children_.find(job);
  if (it != children_.end()) ::kill(-it->second->pid, sig);
}

}  // namespace vramq::exec
