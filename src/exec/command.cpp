#include "exec/command.hpp"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "exec/spawn.hpp"
#include "util/unique_fd.hpp"

extern char** environ;

namespace vramq::exec {

std::string CommandResult::failure() const {
  if (!spawn_error.empty()) return spawn_error;
  if (timed_out) return "no answer in time (killed)";
  std::string first = err.substr(0, err.find('\n'));
  if (first.empty()) first = out.substr(0, out.find('\n'));
  if (signal != 0)
    return fmt::format("killed by signal {}{}{}", signal, first.empty() ? "" : ": ", first);
  if (first.empty()) return fmt::format("exit code {}", exit_code);
  return fmt::format("exit code {}: {}", exit_code, first);
}

namespace {

// Starts argv in a process group of its own, stdin /dev/null, stdout and stderr to the pipes'
// write ends, with default signal handling; posix_spawnp's error (0: started).
int spawn_in_group(std::span<const std::string> argv, std::span<const std::string> env, int out_fd,
                   int err_fd, pid_t& pid) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_fd, 1);
  posix_spawn_file_actions_adddup2(&actions, err_fd, 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // The server may block or ignore signals; the command starts with the defaults.
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  sigset_t all;
  sigfillset(&all);
  posix_spawnattr_setsigdefault(&attr, &all);
  // A group of its own: a timeout kills whatever it started too.
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
  std::vector<char*> args = c_strings(argv);
  std::vector<char*> envp = c_strings(env);
  int rc = ::posix_spawnp(&pid, args[0], &actions, &attr, args.data(),
                          env.empty() ? environ : envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  return rc;
}

// Reads both pipes until they close (at most `max_bytes` kept of each) or the deadline passes
// (then the group is killed and r.timed_out set).
void collect(pid_t pid, int out_fd, int err_fd, std::chrono::milliseconds timeout,
             std::size_t max_bytes, CommandResult& r) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::array<pollfd, 2> fds{pollfd{out_fd, POLLIN, 0}, pollfd{err_fd, POLLIN, 0}};
  std::array<std::string*, 2> sink{&r.out, &r.err};
  std::array<char, 8192> buf{};
  int open = 2;
  while (open > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    int n = left.count() <= 0 ? 0 : ::poll(fds.data(), fds.size(), static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (left.count() <= 0 || n < 0) {
      // Out of time, or it cannot be watched any more: it must not block the caller.
      r.timed_out = true;
      ::kill(-pid, SIGKILL);
      return;
    }
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      ssize_t got = ::read(fds[i].fd, buf.data(), buf.size());
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        fds[i].fd = -1;  // closed (its owner closes it)
        --open;
        continue;
      }
      std::size_t room = max_bytes - std::min(max_bytes, sink[i]->size());
      sink[i]->append(buf.data(), std::min(room, static_cast<std::size_t>(got)));
    }
  }
}

}  // namespace

CommandResult run_command(std::span<const std::string> argv, std::span<const std::string> env,
                          std::chrono::milliseconds timeout, std::size_t max_bytes) {
  CommandResult r;
  if (argv.empty()) {
    r.spawn_error = "no command";
    return r;
  }
  std::array<util::UniqueFd, 2> out;
  std::array<util::UniqueFd, 2> err;
  for (std::array<util::UniqueFd, 2>* pipe : {&out, &err}) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) {
      r.spawn_error = fmt::format("pipe: {}", std::strerror(errno));
      return r;
    }
    (*pipe)[0].reset(p[0]);
    (*pipe)[1].reset(p[1]);
  }
  pid_t pid = 0;
  int rc = spawn_in_group(argv, env, out[1].get(), err[1].get(), pid);
  out[1].reset();
  err[1].reset();
  if (rc != 0) {
    r.spawn_error = fmt::format("cannot run {}: {}", argv[0], std::strerror(rc));
    return r;
  }
  collect(pid, out[0].get(), err[0].get(), timeout, max_bytes, r);
  int status = 0;
  pid_t waited = -1;
  while ((waited = ::waitpid(pid, &status, 0)) < 0 && errno == EINTR) {
  }
  if (waited < 0) {
    // Its status is gone (SIGCHLD ignored): nothing says it succeeded.
    r.spawn_error =
        fmt::format("{}: its exit status cannot be read: {}", argv[0], std::strerror(errno));
    return r;
  }
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
  return r;
}

}  // namespace vramq::exec
