#pragma once
// The `queue` event: the head of the queue, published after a pass that changed it, at most
// every kIntervalMs (a start moves every place behind it: one event, not one per job). A change
// that comes too soon is published by a timer at the end of the interval, as the head is then.
// Loop only.

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <functional>

#include "service/event_feed.hpp"
#include "service/service_clock.hpp"
#include "service/views.hpp"

namespace vramq::service {

class QueueEvents {
 public:
  static constexpr std::int64_t kIntervalMs = 250;
  // `head`: the head of the queue now.
  QueueEvents(boost::asio::io_context& ioc, EventFeed& feed, std::function<QueueHead()> head)
      : feed_(feed), head_(std::move(head)), timer_(ioc) {}
  // The queue may have changed: publish its head if it did (now, or at the interval's end).
  void changed();
  void stop() { timer_.cancel(); }

 private:
  EventFeed& feed_;
  std::function<QueueHead()> head_;
  QueueHead published_;               // the last event
  std::int64_t published_at_ms_ = 0;  // when it was published
  ServiceTimer timer_;                // a change that came too soon after it
  bool armed_ = false;
};

}  // namespace vramq::service
