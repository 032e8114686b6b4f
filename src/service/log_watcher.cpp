#include "service/log_watcher.hpp"

#include <sys/inotify.h>
#include <unistd.h>

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstring>

namespace vramq::service {
namespace asio = boost::asio;

LogWatcher::LogWatcher(asio::io_context& ioc, bool use_inotify) : sleepers_(ioc) {
  if (!use_inotify) {
    spdlog::info("log followers poll every 2 s (--log-follow poll)");
    return;
  }
  int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) {
    spdlog::warn("inotify unavailable ({}): log followers poll every 2 s", std::strerror(errno));
    return;
  }
  inotify_ = std::make_unique<asio::posix::stream_descriptor>(ioc, fd);
  read_events();
}

LogWatcher::~LogWatcher() = default;

void LogWatcher::watch(core::JobId job, const std::string& dir) {
  if (!inotify_ || watches_.contains(job)) return;
  int wd = ::inotify_add_watch(inotify_->native_handle(), dir.c_str(), IN_MODIFY | IN_CLOSE_WRITE);
  if (wd < 0) return;  // no directory yet (still queued), or no watches left: poll
  watches_[job] = wd;
  jobs_[wd] = job;
  // Writes made before the watch existed were not seen: count the new watch as a change.
  ++generations_[job];
}

std::uint64_t LogWatcher::generation(core::JobId job) const {
  auto it = generations_.find(job);
  return it == generations_.end() ? 0 : it->second;
}

asio::awaitable<void> LogWatcher::wait(core::JobId job, std::string dir, std::uint64_t seen,
                                       std::chrono::milliseconds timeout) {
  watch(job, dir);
  if (generation(job) != seen) co_return;
  co_await sleepers_.sleep(job, timeout);
}

void LogWatcher::wake(core::JobId job) {
  ++generations_[job];
  sleepers_.notify(job);
}

void LogWatcher::forget(core::JobId job) {
  wake(job);
  generations_.erase(job);
  auto it = watches_.find(job);
  if (it == watches_.end()) return;
  if (inotify_) ::inotify_rm_watch(inotify_->native_handle(), it->second);
  jobs_.erase(it->second);
  watches_.erase(it);
}

void LogWatcher::read_events() {
  inotify_->async_read_some(
      asio::buffer(buffer_), [this](const boost::system::error_code& ec, std::size_t n) {
        if (ec == asio::error::operation_aborted) return;  // shutting down
        if (ec) {
          spdlog::warn("inotify read failed ({}): log followers poll", ec.message());
          return;
        }
        for (std::size_t off = 0; off + sizeof(inotify_event) <= n;) {
          inotify_event ev{};
          std::memcpy(&ev, buffer_.data() + off, sizeof ev);
          if (auto it = jobs_.find(ev.wd); it != jobs_.end()) {
            core::JobId job = it->second;
            if (ev.mask & IN_IGNORED) {  // the directory went away
              watches_.erase(job);
              jobs_.erase(it);
            }
            if (generations_.contains(job)) wake(job);
          }
          off += sizeof(inotify_event) + ev.len;
        }
        read_events();
      });
}

}  // namespace vramq::service
