#include "app/host_lock.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <fmt/format.h>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace vramq::app {

core::Result<HostLock> HostLock::acquire(const std::string& path, std::string_view what) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    return core::Error{
        fmt::format("cannot open the lock file {} for {}: {}", path, what, std::strerror(errno))};
  }
  HostLock lock(fd);
  // A holder that is no longer alive is a spawn of a server killed mid-way (the child has the
  // server's descriptors until it closes them, microseconds later): wait a moment for it.
  for (int i = 0; i < 100 && ::flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK; ++i) {
    char buf[32] = {};
    ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
    pid_t holder = n > 0 ? static_cast<pid_t>(std::atoi(buf)) : 0;
    if (holder <= 0 || ::kill(holder, 0) == 0 || errno != ESRCH) break;
    ::usleep(20'000);
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    if (err != EWOULDBLOCK) {
      return core::Error{fmt::format("cannot lock {} for {}: {}", path, what, std::strerror(err))};
    }
    char buf[32] = {};
    ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
    std::string holder = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "";
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' '))
      holder.pop_back();
    return core::Error{fmt::format("{} is in use by another vramq (PID {}, lock file {})", what,
                                   holder.empty() ? "unknown" : holder, path)};
  }
  std::string pid = fmt::format("{}\n", ::getpid());
  if (::ftruncate(fd, 0) != 0 ||
      ::pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    return core::Error{fmt::format("cannot write {}: {}", path, std::strerror(errno))};
  }
  return lock;
}

HostLock& HostLock::operator=(HostLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

HostLock::~HostLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the flock
}

}  // namespace vramq::app
