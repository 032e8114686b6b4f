// GET /v1/jobs/{id}/files and GET /v1/jobs/{id}/files/{path}: what a job left in its directory.
// The listing does not follow symlinks; a download is opened only from inside the directory
// (util::open_beneath: no "..", no symlink anywhere on the way), streamed in pieces, with one
// byte range (Range: bytes=...) supported.
#include <fmt/format.h>
#include <boost/json.hpp>

#include "server/byte_range.hpp"
#include "server/json_codec.hpp"
#include "server/problem.hpp"
#include "server/router.hpp"
#include "server/visibility.hpp"
#include "util/json_text.hpp"

namespace vramq::server {
namespace {

constexpr std::size_t kPiece = 64 << 10;

// The bytes [offset, end) of an open file, a piece at a time.
class FileStream final : public BodyStream {
 public:
  FileStream(service::Orchestrator& o, std::shared_ptr<util::OpenFile> file, std::int64_t offset,
             std::int64_t end)
      : o_(o), file_(std::move(file)), offset_(offset), end_(end) {}

  boost::asio::awaitable<std::string> next() override {
    if (offset_ >= end_) co_return std::string();
    auto want = static_cast<std::size_t>(std::min<std::int64_t>(end_ - offset_, kPiece));
    std::string piece = co_await o_.files().read(file_, offset_, want);
    if (piece.empty()) {
      offset_ = end_;  // the file shrank: end early
    } else {
      offset_ += static_cast<std::int64_t>(piece.size());
    }
    co_return piece;
  }

 private:
  service::Orchestrator& o_;
  std::shared_ptr<util::OpenFile> file_;
  std::int64_t offset_;
  std::int64_t end_;
};

}  // namespace

boost::asio::awaitable<Response> handle_files(const Request& req, core::JobId id,
                                              std::string_view path, service::Orchestrator& o) {
  auto found = co_await o.get(id);
  if (!found) co_return problem(Problem::internal, found.error().message);
  if (!*found) co_return problem(Problem::not_found, fmt::format("no job {}", id), "id");
  if (!reads_all_of(req, (*found)->job.spec.owner, o.config())) {
    co_return private_job((*found)->job, "files");
  }
  if (path.empty()) {
    auto listing = co_await o.files().list(id);
    if (!listing) co_return problem(Problem::internal, listing.error().message);
    boost::json::array files;
    for (const util::FileEntry& e : listing->entries) {
      files.push_back(boost::json::object{{"path", e.path},
                                          {"type", e.type},
                                          {"size", e.size},
                                          {"modified", rfc3339(e.modified_ms)}});
    }
    boost::json::object body{{"job", id},
                             {"job_dir", (*found)->job_dir},
                             {"files", std::move(files)},
                             {"truncated", listing->truncated}};
    co_return Response{.body = util::to_json_text(body)};
  }
  auto file = co_await o.files().open(id, std::string(path));
  if (!file) {
    switch (file.error().code) {
      case util::OpenErrc::bad_path:
        co_return problem(Problem::bad_request, file.error().message, "path");
      case util::OpenErrc::not_found:
        co_return problem(Problem::not_found, file.error().message, "path");
      case util::OpenErrc::not_a_file:
        co_return problem(Problem::forbidden, file.error().message, "path");
      case util::OpenErrc::failed:
        break;
    }
    co_return problem(Problem::internal, file.error().message);
  }
  std::int64_t size = (*file)->size();
  ByteRange range = parse_byte_range(req.header("range"), size);
  Response r{.status = 200, .content_type = "application/octet-stream", .body = {}};
  r.headers.emplace_back("Accept-Ranges", "bytes");
  r.headers.emplace_back("Cache-Control", "no-store");
  if (range.kind == ByteRange::unsatisfiable) {
    Response bad = problem(
        Problem::range_not_satisfiable,
        fmt::format("the file has {} bytes: the range asked for is past its end", size), "Range");
    bad.headers.emplace_back("Content-Range", fmt::format("bytes */{}", size));
    co_return bad;
  }
  std::int64_t first = 0;
  std::int64_t end = size;
  if (range.kind == ByteRange::partial) {
    r.status = 206;
    first = range.first;
    end = range.last + 1;
    r.headers.emplace_back("Content-Range",
                           fmt::format("bytes {}-{}/{}", range.first, range.last, size));
  }
  r.stream = std::make_shared<FileStream>(o, std::move(*file), first, end);
  co_return r;
}

}  // namespace vramq::server
