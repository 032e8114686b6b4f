#pragma once
// The service's clock: steady time for the timers that drive jobs (timeouts, kill graces, retry
// delays and back-offs, warm workers' setup, keep-alive and pings, GPU polls, retention) and
// wall time for what it records, both moved forward together by advance(). In production
// nothing advances it: it is steady_clock and system_clock. Tests advance it, so that an
// hour's keep-alive or a retry delay is reached at once (tests/unit/service/service_harness).
// The offset is the one process-wide value the service reads: atomic, and only ever raised.

#include <atomic>
#include <boost/asio/basic_waitable_timer.hpp>
#include <chrono>
#include <cstdint>

namespace vramq::service {

struct ServiceClock {
  using duration = std::chrono::steady_clock::duration;
  using rep = duration::rep;
  using period = duration::period;
  using time_point = std::chrono::time_point<ServiceClock, duration>;
  static constexpr bool is_steady = true;

  static time_point now() noexcept {
    return time_point(std::chrono::steady_clock::now().time_since_epoch() + offset());
  }
  // Unix milliseconds, moved by the same offset.
  static std::int64_t wall_ms() noexcept {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch() + offset())
        .count();
  }
  // Tests only: time passes by `d` at once. Timers already waiting notice at the loop's next
  // turn through the timer queue (the harness arms an expired timer to make it turn).
  static void advance(duration d) noexcept { offset_ns().fetch_add(d.count()); }

 private:
  static duration offset() noexcept { return duration(offset_ns().load()); }
  static std::atomic<rep>& offset_ns() noexcept {
    static std::atomic<rep> value{0};
    return value;
  }
};

using ServiceTimer = boost::asio::basic_waitable_timer<ServiceClock>;

// Now, as the service records it (Unix milliseconds).
inline std::int64_t now_ms() {
  return ServiceClock::wall_ms();
}

}  // namespace vramq::service
