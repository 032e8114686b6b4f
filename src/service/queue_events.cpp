#include "service/queue_events.hpp"

namespace vramq::service {

void QueueEvents::changed() {
  if (!feed_.enabled() || armed_) return;  // the armed timer publishes it
  std::int64_t wait_ms = published_at_ms_ + kIntervalMs - ServiceClock::wall_ms();
  if (wait_ms > 0) {
    armed_ = true;
    timer_.expires_after(std::chrono::milliseconds(wait_ms));
    timer_.async_wait([this](const boost::system::error_code& ec) {
      armed_ = false;
      if (!ec) changed();
    });
    return;
  }
  QueueHead now = head_();
  if (now == published_ && published_at_ms_ != 0) return;
  feed_.queue(now);
  published_ = std::move(now);
  published_at_ms_ = ServiceClock::wall_ms();
}

}  // namespace vramq::service
