#pragma once
// Waits, blocking, for a descriptor to become readable (data, or its peer gone): the bounded
// waits of rare paths that cannot be asynchronous (a launcher's answer, a run's first record).

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>

namespace vramq::util {

// True once `fd` is readable or hung up, false when `timeout` passes first (or poll fails). A
// signal does not cut the wait short: it goes on for what is left.
inline bool readable_within(int fd, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left =
        std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd p{.fd = fd, .events = POLLIN, .revents = 0};
    int n = ::poll(&p, 1, static_cast<int>(std::max<std::int64_t>(0, left.count())));
    if (n >= 0 || errno != EINTR) return n > 0;
  }
}

}  // namespace vramq::util
