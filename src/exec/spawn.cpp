#include "exec/spawn.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>

#include <cerrno>

#include "util/unique_fd.hpp"

namespace vramq::exec {
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

}  // namespace

std::vector<char*> c_strings(std::span<const std::string> v) {
  std::vector<char*> out;
  out.reserve(v.size() + 1);
  for (const std::string& s : v)
    out.push_back(const_cast<char*>(s.c_str()));  // NOLINT: execve's signature
  out.push_back(nullptr);
  return out;
}

int spawn_detached(const std::vector<std::string>& args, const std::vector<std::string>& env,
                   std::span<const int> fds, pid_t& pid) {
  // Above the range they go to first, so that no dup2 of the spawn overwrites another's source.
  std::vector<util::UniqueFd> high;
  high.reserve(fds.size());
  for (int fd : fds) {
    high.emplace_back(::fcntl(fd, F_DUPFD_CLOEXEC, 10));
    if (!high.back().valid()) return errno;
  }
  SpawnSetup s;
  sigset_t all;
  sigset_t none;
  sigfillset(&all);
  sigemptyset(&none);
  int rc = posix_spawnattr_setflags(
      &s.attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  rc = rc ? rc : posix_spawnattr_setsigmask(&s.attr, &none);
  rc = rc ? rc : posix_spawnattr_setsigdefault(&s.attr, &all);
  for (std::size_t i = 0; i < high.size() && rc == 0; ++i) {
    rc = posix_spawn_file_actions_adddup2(&s.actions, high[i].get(), 3 + static_cast<int>(i));
  }
  // Closed before the opens below, so that a slow open never holds them.
  rc = rc ? rc
          : posix_spawn_file_actions_addclosefrom_np(&s.actions, 3 + static_cast<int>(fds.size()));
  for (int fd = 0; fd < 2 && rc == 0; ++fd) {
    rc = posix_spawn_file_actions_addopen(&s.actions, fd, "/dev/null", O_RDWR, 0);
  }
  std::vector<char*> argv = c_strings(args);
  std::vector<char*> envp = c_strings(env);
  return rc ? rc
            : ::posix_spawn(&pid, args.front().c_str(), &s.actions, &s.attr, argv.data(),
                            envp.data());
}

}  // namespace vramq::exec
