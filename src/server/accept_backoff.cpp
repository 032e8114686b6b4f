#include "server/accept_backoff.hpp"

#include <algorithm>

namespace vramq::server {

AcceptBackoff::Step AcceptBackoff::failed(Clock::time_point now) {
  wait_ = wait_.count() == 0 ? kFirstWait : std::min(wait_ * 2, kLongestWait);
  Step step{.wait = wait_};
  if (!last_log_ || now - *last_log_ >= kLogInterval) {
    step.log = true;
    step.suppressed = suppressed_;
    suppressed_ = 0;
    last_log_ = now;
  } else {
    ++suppressed_;
  }
  return step;
}

}  // namespace vramq::server
