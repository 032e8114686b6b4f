#pragma once
// Wakes log followers when a job writes to its log files (inotify on the job's directory) or
// when the job starts or ends. One inotify watch per followed job, however many followers it
// has, kept until the job ends; followers sleep on timers in between, so following costs nothing
// while nothing happens. Each wake bumps the job's generation: a follower passes the generation
// it saw before reading, so a write that lands between its read and its wait is not missed.
// Without inotify (it can fail: watch limits) followers fall back to their timeout as a poll.
// Thread safety: loop only.

#include <array>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "core/job.hpp"
#include "service/job_waiters.hpp"

namespace vramq::service {

class LogWatcher {
 public:
  // `use_inotify` false: followers poll (a data directory on NFS, where inotify sees nothing).
  LogWatcher(boost::asio::io_context& ioc, bool use_inotify);
  ~LogWatcher();
  LogWatcher(const LogWatcher&) = delete;
  LogWatcher& operator=(const LogWatcher&) = delete;

  std::uint64_t generation(core::JobId job) const;
  // Returns at once if the generation moved past `seen`, else when a file in `dir` (the job's
  // directory) is written, wake(job) is called, or `timeout` passes.
  boost::asio::awaitable<void> wait(core::JobId job, std::string dir, std::uint64_t seen,
                                    std::chrono::milliseconds timeout);
  void wake(core::JobId job);
  void forget(core::JobId job);  // the job ended: wake its followers, drop its watch

 private:
  void watch(core::JobId job, const std::string& dir);
  void read_events();

  std::unique_ptr<boost::asio::posix::stream_descriptor> inotify_;  // null: no inotify
  alignas(8) std::array<char, 4096> buffer_{};
  std::map<core::JobId, int> watches_;  // job -> inotify watch descriptor
  std::map<int, core::JobId> jobs_;     // watch descriptor -> job
  std::map<core::JobId, std::uint64_t> generations_;
  JobWaiters sleepers_;  // followers between two looks
};

}  // namespace vramq::service
