#include "service/job_files.hpp"

#include <boost/asio/use_awaitable.hpp>
#include <filesystem>

#include "service/job_paths.hpp"
#include "util/untrusted_files.hpp"

namespace vramq::service {
namespace asio = boost::asio;

namespace {
constexpr std::size_t kMaxListed = 10'000;
}  // namespace

JobFiles::JobFiles(asio::io_context& ioc, const std::string& data_dir, bool inotify)
    : root_((std::filesystem::absolute(data_dir) / "jobs").string() + "/"),
      watcher_(ioc, inotify),
      worker_(ioc.get_executor()) {}

asio::awaitable<std::string> JobFiles::read_log(core::JobId id, std::string_view stream,
                                                std::int64_t offset, std::size_t max_bytes,
                                                std::optional<int> earlier_attempt) {
  // Not a coroutine: a capturing lambda made inside a co_await expression has its captures
  // destroyed twice by g++ 12; here it is built in an ordinary function.
  std::string path = earlier_attempt ? attempt_log_path(dir(id), stream, *earlier_attempt)
                                     : log_path(dir(id), stream);
  return worker_.async_run(
      [path, offset, max_bytes] { return util::read_range(path, offset, max_bytes); },
      asio::use_awaitable);
}

asio::awaitable<std::string> JobFiles::log_tail(core::JobId id, std::string_view stream,
                                                std::size_t max_bytes) {
  std::string path = log_path(dir(id), stream);
  return worker_.async_run([path, max_bytes] { return util::read_tail(path, max_bytes); },
                           asio::use_awaitable);
}

asio::awaitable<void> JobFiles::wait_log(core::JobId id, std::uint64_t seen,
                                         std::chrono::milliseconds timeout) {
  co_await watcher_.wait(id, dir(id), seen, timeout);
}

void JobFiles::keep_attempt_logs(core::JobId id, int attempt) const {
  std::string d = dir(id);
  for (std::string_view stream : {"stdout", "stderr"}) {
    std::error_code ec;
    std::filesystem::rename(log_path(d, stream), attempt_log_path(d, stream, attempt), ec);
  }
}

void JobFiles::read_progress(std::vector<ProgressProbe> probes,
                             std::function<void(std::vector<ProgressRead>)> done) {
  if (progress_reading_) return;
  progress_reading_ = true;
  worker_.async_run([probes = std::move(probes)] { return read_progress_files(probes); },
                    [this, done = std::move(done)](std::vector<ProgressRead> reads) {
                      progress_reading_ = false;
                      done(std::move(reads));
                    });
}

asio::awaitable<core::Result<util::Listing>> JobFiles::list(core::JobId id) {
  std::string d = dir(id);
  return worker_.async_run([d] { return util::list_files(d, kMaxListed); }, asio::use_awaitable);
}

asio::awaitable<boost::system::result<std::shared_ptr<util::OpenFile>, util::OpenError>>
JobFiles::open(core::JobId id, std::string relative) {
  std::string d = dir(id);
  return worker_.async_run(
      [d, relative = std::move(relative)] { return util::open_beneath(d, relative); },
      asio::use_awaitable);
}

asio::awaitable<std::string> JobFiles::read(std::shared_ptr<util::OpenFile> file,
                                            std::int64_t offset, std::size_t max_bytes) {
  return worker_.async_run(
      [file = std::move(file), offset, max_bytes] { return file->read(offset, max_bytes); },
      asio::use_awaitable);
}

}  // namespace vramq::service
