#pragma once
// A job's directory (DATA_DIR/jobs/ID) as the API and the orchestrator reach it: its logs (an
// attempt's own, or an earlier attempt's kept as attempt-N.*.log), the files a job wrote (a
// listing without following links, a file opened only from inside the directory), and the log
// followers' wake-ups (LogWatcher). Every filesystem call that a job's files could stall runs on
// the file thread (worker()), never on the loop; the orchestrator's other reads of job files (a
// run's end, progress, removal) go to the same thread. Loop only, but for that thread.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "core/job.hpp"
#include "service/log_watcher.hpp"
#include "service/progress_files.hpp"
#include "util/confined_files.hpp"
#include "util/worker.hpp"

namespace vramq::service {

class JobFiles {
 public:
  // `data_dir`: the server's; `inotify`: log followers are woken by inotify (else they poll).
  JobFiles(boost::asio::io_context& ioc, const std::string& data_dir, bool inotify);

  std::string dir(core::JobId id) const { return root_ + std::to_string(id); }

  // Up to `max_bytes` of a job's stdout or stderr from `offset`: the current attempt's, or an
  // earlier attempt's.
  boost::asio::awaitable<std::string> read_log(core::JobId id, std::string_view stream,
                                               std::int64_t offset, std::size_t max_bytes,
                                               std::optional<int> earlier_attempt);
  // The last `max_bytes` of a job's stdout or stderr.
  boost::asio::awaitable<std::string> log_tail(core::JobId id, std::string_view stream,
                                               std::size_t max_bytes);
  // For log followers: the job's log generation, and a wait for the next change after `seen`
  // (a write, the job's start or end), at most `timeout`.
  std::uint64_t log_generation(core::JobId id) const { return watcher_.generation(id); }
  boost::asio::awaitable<void> wait_log(core::JobId id, std::uint64_t seen,
                                        std::chrono::milliseconds timeout);
  // Attempt `attempt`'s logs become attempt-N.stdout.log / .stderr.log (its retry begins).
  void keep_attempt_logs(core::JobId id, int attempt) const;

  boost::asio::awaitable<core::Result<util::Listing>> list(core::JobId id);
  boost::asio::awaitable<boost::system::result<std::shared_ptr<util::OpenFile>, util::OpenError>>
  open(core::JobId id, std::string relative);
  boost::asio::awaitable<std::string> read(std::shared_ptr<util::OpenFile> file,
                                           std::int64_t offset, std::size_t max_bytes);

  // Running jobs' progress files, read off the loop one round at a time: `done` gets the reads
  // on the loop; a round asked for while one is under way is skipped.
  void read_progress(std::vector<ProgressProbe> probes,
                     std::function<void(std::vector<ProgressRead>)> done);

  LogWatcher& watcher() { return watcher_; }
  util::Worker& worker() { return worker_; }
  bool busy() const { return worker_.busy(); }
  void join() { worker_.join(); }

 private:
  std::string root_;  // DATA_DIR/jobs/, absolute (once: listings name many job dirs)
  LogWatcher watcher_;
  util::Worker worker_;
  bool progress_reading_ = false;
};

}  // namespace vramq::service
