#pragma once
// What the accept loop does when accept() fails for want of a resource (EMFILE, ENFILE, ENOBUFS,
// ENOMEM): wait before the next try, longer each time in a row, and log the failure at most once
// per interval with the count of those not logged. Without it the loop spins at 100 % CPU and
// writes the same line millions of times. Pure: the caller passes the time.

#include <chrono>
#include <cstdint>
#include <optional>

namespace vramq::server {

class AcceptBackoff {
 public:
  using Clock = std::chrono::steady_clock;
  struct Step {
    std::chrono::milliseconds wait;  // before the next accept
    bool log = false;                // log this failure now
    std::uint64_t suppressed = 0;    // failures not logged since the last line
  };
  // A failed accept at `now`.
  Step failed(Clock::time_point now);
  // An accept that worked: the next failure waits the shortest time again.
  void succeeded() { wait_ = std::chrono::milliseconds(0); }

  static constexpr std::chrono::milliseconds kFirstWait{10};
  static constexpr std::chrono::milliseconds kLongestWait{1000};
  static constexpr std::chrono::seconds kLogInterval{10};

 private:
  std::chrono::milliseconds wait_{0};
  std::optional<Clock::time_point> last_log_;
  std::uint64_t suppressed_ = 0;
};

}  // namespace vramq::server
