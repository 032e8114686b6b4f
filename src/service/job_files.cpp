// The Orchestrator's access to the files in a job's directory (GET /v1/jobs/{id}/files): every
// filesystem call runs on the file worker, never on the loop.
#include <boost/asio/use_awaitable.hpp>

#include "service/orchestrator.hpp"

namespace vramq::service {
namespace asio = boost::asio;

namespace {
constexpr std::size_t kMaxListed = 10'000;
}  // namespace

asio::awaitable<core::Result<util::Listing>> Orchestrator::list_files(core::JobId id) {
  std::string dir = job_dir(id);
  return file_worker_.async_run([dir] { return util::list_files(dir, kMaxListed); },
                                asio::use_awaitable);
}

asio::awaitable<boost::system::result<std::shared_ptr<util::OpenFile>, util::OpenError>>
Orchestrator::open_file(core::JobId id, std::string relative) {
  std::string dir = job_dir(id);
  return file_worker_.async_run(
      [dir, relative = std::move(relative)] { return util::open_beneath(dir, relative); },
      asio::use_awaitable);
}

asio::awaitable<std::string> Orchestrator::read_file(std::shared_ptr<util::OpenFile> file,
                                                     std::int64_t offset, std::size_t max_bytes) {
  return file_worker_.async_run(
      [file = std::move(file), offset, max_bytes] { return file->read(offset, max_bytes); },
      asio::use_awaitable);
}

}  // namespace vramq::service
