#pragma once
// An exclusive, advisory lock on a file (flock), held for the life of the process: one vramq per
// data directory, and one vramq per GPU on a host. The file names its holder's PID so that the
// one refused can say who holds it. The lock dies with the process (the kernel drops it, even on
// kill -9), so a stale file never blocks a restart. The descriptor is close-on-exec: jobs started
// by the holder must not keep the lock after the server is gone.

#include <string>

#include "core/error.hpp"

namespace vramq::app {

class HostLock {
 public:
  // Takes the lock on `path` (created 0600 if missing) without waiting. The error names `what`
  // (e.g. "the data directory /srv/vramq"), the lock file and the PID that holds it.
  static core::Result<HostLock> acquire(const std::string& path, std::string_view what);

  HostLock(HostLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  HostLock& operator=(HostLock&& other) noexcept;
  HostLock(const HostLock&) = delete;
  HostLock& operator=(const HostLock&) = delete;
  ~HostLock();

 private:
  explicit HostLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace vramq::app
