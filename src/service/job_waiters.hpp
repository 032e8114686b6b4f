#pragma once
// Clients that wait for a job to end (GET /v1/jobs/{id}?wait=): each sleeps on a timer that the
// job's end cancels (notify), or that runs out. No polling. Loop only.

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <map>
#include <memory>

#include "core/job.hpp"

namespace vramq::service {

class JobWaiters {
 public:
  explicit JobWaiters(boost::asio::io_context& ioc) : ioc_(ioc) {}
  // Until notify(id) or `timeout`. Registered before its first suspension: an end that comes
  // after the caller last looked is never missed.
  boost::asio::awaitable<void> sleep(core::JobId id, std::chrono::milliseconds timeout) {
    auto timer = std::make_shared<boost::asio::steady_timer>(ioc_, timeout);
    auto entry = waiters_.emplace(id, timer);
    co_await timer->async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    waiters_.erase(entry);
  }
  void notify(core::JobId id) {
    auto [begin, end] = waiters_.equal_range(id);
    for (auto it = begin; it != end; ++it)
      it->second->cancel();
  }

 private:
  boost::asio::io_context& ioc_;
  std::multimap<core::JobId, std::shared_ptr<boost::asio::steady_timer>> waiters_;
};

}  // namespace vramq::service
