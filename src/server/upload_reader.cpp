#include "server/upload_reader.hpp"

#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <fmt/format.h>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <system_error>

#include "core/file_param.hpp"
#include "core/media_type.hpp"
#include "core/text.hpp"
#include "server/json_codec.hpp"
#include "server/multipart.hpp"
#include "server/problem.hpp"
#include "service/job_inputs.hpp"
#include "util/data_url.hpp"
#include "util/sha256.hpp"
#include "util/unique_fd.hpp"

namespace vramq::server {
namespace {
namespace asio = boost::asio;

using util::errno_text;

Response write_failure(int err) {
  if (err == ENOSPC || err == EDQUOT) {
    Response r = problem(Problem::insufficient_storage,
                         "the data directory's disk is full: the upload cannot be stored");
    r.headers.emplace_back("Retry-After", "30");
    return r;
  }
  return problem(Problem::internal,
                 fmt::format("the upload cannot be stored: {}", errno_text(err)));
}

int write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return 0;
}

// The upload thread's work. Not coroutines: a lambda's captures must not live in a coroutine's
// frame (g++ 12 frees them twice; ../shared/notes/cpp-build.md).
struct Made {
  boost::system::result<std::shared_ptr<service::StagedInputs>, int> staged{0};
  std::int64_t room = 0;  // bytes uploads may still take on the data directory's disk
};
asio::awaitable<Made> stage_and_measure(service::JobInputs& inputs, std::string data_dir,
                                        std::int64_t reserve, bool make) {
  return inputs.worker().async_run(
      [&inputs, data_dir = std::move(data_dir), reserve, make] {
        Made m;
        if (make) m.staged = inputs.stage();
        struct statvfs fs {};
        m.room =
            ::statvfs(data_dir.c_str(), &fs) == 0
                ? static_cast<std::int64_t>(fs.f_bavail) * static_cast<std::int64_t>(fs.f_frsize) -
                      reserve
                : std::numeric_limits<std::int64_t>::max();
        return m;
      },
      asio::use_awaitable);
}
// The new file's descriptor, or -errno.
asio::awaitable<int> open_upload(service::JobInputs& inputs, std::string path) {
  return inputs.worker().async_run(
      [path = std::move(path)] {
        int f = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        return f >= 0 ? f : -errno;
      },
      asio::use_awaitable);
}
// 0, or the errno of the write that failed. `piece` must outlive the wait.
asio::awaitable<int> write_upload(service::JobInputs& inputs, int fd, std::string_view piece) {
  return inputs.worker().async_run([fd, piece] { return write_all(fd, piece); },
                                   asio::use_awaitable);
}
// A written file's descriptor closed off the loop (a close can flush, on NFS); not awaited.
void close_upload(service::JobInputs& inputs, int fd) {
  inputs.worker().async_run(
      [fd] {
        ::close(fd);
        return 0;
      },
      [](int) {});
}

// Writes files into a request's staging directory with every check of upload_reader.hpp, and
// fingerprints what it stores (name, size, bytes) for Idempotency-Key. Data is written in pieces
// of up to kFlush (a client sending tiny segments costs no write and thread hop per segment).
class Stager {
 public:
  Stager(service::Orchestrator& o, std::shared_ptr<service::StagedInputs> staged)
      : o_(o), staged_(std::move(staged)) {}
  Stager(const Stager&) = delete;
  Stager& operator=(const Stager&) = delete;
  ~Stager() {
    if (fd_.valid()) close_upload(o_.inputs(), fd_.release());
    o_.inputs().release(claimed_);
  }

  // The staging directory (made if there is none), and the room for `expected` more bytes.
  asio::awaitable<std::optional<Response>> start(std::int64_t expected) {
    service::JobInputs& inputs = o_.inputs();
    std::string data_dir = o_.config().data_dir;
    std::int64_t reserve = o_.config().upload_reserve_mb << 20;
    bool make = staged_ == nullptr;
    Made made = co_await stage_and_measure(inputs, data_dir, reserve, make);
    if (make) {
      if (!made.staged) co_return write_failure(made.staged.error());
      staged_ = std::move(*made.staged);
    }
    room_ = made.room - inputs.in_flight();
    if (expected > room_) co_return no_room();
    co_return std::nullopt;
  }

  // A file for parameter `def` begins.
  asio::awaitable<std::optional<Response>> begin(const core::ParamDef& def) {
    def_ = def;
    bytes_ = 0;
    sniff_.clear();
    pending_.clear();
    media_type_.clear();
    std::string path = staged_->dir() + "/" + def.name;
    int fd = co_await open_upload(o_.inputs(), path);
    if (fd == -EEXIST) {
      co_return problem(Problem::bad_request, fmt::format("params.{}: given twice", def.name),
                        "params." + def.name);
    }
    if (fd < 0) co_return write_failure(-fd);
    fd_.reset(fd);
    sha_.update(def.name);
    sha_.update(std::string_view("\0", 1));
    co_return std::nullopt;
  }

  // More of the current file.
  asio::awaitable<std::optional<Response>> data(std::string_view piece) {
    auto size = static_cast<std::int64_t>(piece.size());
    bytes_ += size;
    staged_->bytes += size;
    o_.inputs().claim(size);
    claimed_ += size;
    std::string field = "params." + def_.name;
    if (auto fits = core::check_upload_size(def_, bytes_); !fits) {
      co_return problem(Problem::payload_too_large, fits.error().message, field);
    }
    if (staged_->bytes > o_.config().max_upload_bytes) {
      co_return problem(Problem::payload_too_large,
                        fmt::format("the files of one job are over the server's limit of {} "
                                    "bytes (--max-upload-bytes)",
                                    o_.config().max_upload_bytes),
                        field);
    }
    if (staged_->bytes > room_) co_return no_room();
    sha_.update(piece);
    if (media_type_.empty()) {
      std::size_t take = std::min(core::kSniffBytes - sniff_.size(), piece.size());
      sniff_.append(piece.substr(0, take));
      piece.remove_prefix(take);
      if (sniff_.size() < core::kSniffBytes) co_return std::nullopt;
      if (auto r = told(); r) co_return r;
    }
    pending_.append(piece);
    if (pending_.size() < kFlush) co_return std::nullopt;
    co_return co_await flush();
  }

  // The current file has ended.
  asio::awaitable<std::optional<Response>> end() {
    if (media_type_.empty()) {
      if (auto r = told(); r) co_return r;
    }
    if (auto r = co_await flush(); r) co_return r;
    sha_.update(std::string_view("\0", 1));
    sha_.update(std::to_string(bytes_));
    sha_.update(std::string_view("\0", 1));
    staged_->files.push_back(
        {.param = def_.name, .bytes = bytes_, .media_type = std::move(media_type_)});
    close_upload(o_.inputs(), fd_.release());
    co_return std::nullopt;
  }

  std::shared_ptr<service::StagedInputs>& staged() { return staged_; }
  util::Sha256& sha() { return sha_; }

 private:
  static constexpr std::size_t kFlush = std::size_t{64} << 10;

  // The type is told (the first bytes are in, or the file ended): checked, and those bytes
  // become the first to write.
  std::optional<Response> told() {
    media_type_ = std::string(core::sniff_media_type(sniff_));
    if (auto ok = core::check_upload_type(def_, media_type_); !ok) {
      return problem(Problem::unsupported_media_type, ok.error().message, "params." + def_.name);
    }
    pending_.insert(0, sniff_);
    sniff_.clear();
    return std::nullopt;
  }

  asio::awaitable<std::optional<Response>> flush() {
    if (pending_.empty()) co_return std::nullopt;
    int err = co_await write_upload(o_.inputs(), fd_.get(), pending_);
    pending_.clear();
    if (err != 0) co_return write_failure(err);
    co_return std::nullopt;
  }

  Response no_room() const {
    Response r = problem(Problem::insufficient_storage,
                         fmt::format("the data directory's disk has no room for the upload above "
                                     "the {} MiB it keeps free (--upload-reserve-mb)",
                                     o_.config().upload_reserve_mb));
    r.headers.emplace_back("Retry-After", "30");
    return r;
  }

  service::Orchestrator& o_;
  std::shared_ptr<service::StagedInputs> staged_;
  util::Sha256 sha_;
  std::int64_t room_ = 0;
  std::int64_t claimed_ = 0;  // of JobInputs::in_flight(), given back when this goes
  core::ParamDef def_;  // the current file's parameter (a copy: a reload may replace the catalog)
  util::UniqueFd fd_;
  std::int64_t bytes_ = 0;
  std::string sniff_;       // its first bytes while its type is not told yet
  std::string pending_;     // told bytes not yet written
  std::string media_type_;  // "" until told
};

// The multipart body of a submit: the job's JSON part, then its files.
class UploadReader final : public BodySink {
 public:
  UploadReader(std::string_view boundary, std::optional<std::uint64_t> content_length,
               service::Orchestrator& o)
      : o_(o),
        reader_(boundary, {.head_bytes = std::size_t{16} << 10, .parts = 64}),
        stager_(o, nullptr),
        content_length_(content_length),
        json_limit_(static_cast<std::size_t>(o.config().body_limit_bytes)) {}

  asio::awaitable<std::optional<Response>> write(std::string_view piece) override {
    if (!started_) {
      started_ = true;
      if (auto r = co_await stager_.start(static_cast<std::int64_t>(content_length_.value_or(0)) -
                                          static_cast<std::int64_t>(json_limit_));
          r) {
        co_return r;
      }
    }
    if (auto fed = reader_.feed(piece, events_); !fed) {
      co_return problem(Problem::bad_request,
                        "the multipart/form-data body is malformed: " + fed.error().message);
    }
    for (const MultipartReader::Event& e : events_) {
      std::optional<Response> r;
      switch (e.kind) {
        case MultipartReader::Event::Kind::head:
          r = co_await part_begins(e.head);
          break;
        case MultipartReader::Event::Kind::data:
          if (in_file_) {
            r = co_await stager_.data(e.data);
          } else if (json_.size() + e.data.size() > json_limit_) {
            r = problem(Problem::payload_too_large,
                        fmt::format("the job part is over {} bytes", json_limit_), "job");
          } else {
            json_.append(e.data);
          }
          break;
        case MultipartReader::Event::Kind::end_of_part:
          if (in_file_) {
            r = co_await stager_.end();
          } else {
            r = job_part_ends();
          }
          in_file_ = false;
          break;
        case MultipartReader::Event::Kind::end_of_body:
          break;
      }
      if (r) co_return r;
    }
    co_return std::nullopt;
  }

  asio::awaitable<std::optional<Response>> finish(Request& req) override {
    if (!reader_.done()) {
      co_return problem(Problem::bad_request,
                        "the multipart/form-data body ended before its closing boundary");
    }
    if (!job_seen_) {
      co_return problem(Problem::bad_request,
                        "no job part: the first part must be the job's "
                        "JSON, named 'job'");
    }
    stager_.staged()->digest = stager_.sha().hex();
    req.body = std::move(json_);
    req.inputs = stager_.staged();
    co_return std::nullopt;
  }

  std::size_t buffered_bytes() const override { return json_limit_ + 2 * kPiece; }
  std::size_t max_body_bytes() const override {
    // The job's JSON, the files and, generously, the parts' headers and boundaries.
    return json_limit_ + static_cast<std::size_t>(o_.config().max_upload_bytes) + (1 << 20);
  }
  static constexpr std::size_t kPiece = std::size_t{64} << 10;

 private:
  asio::awaitable<std::optional<Response>> part_begins(const PartHead& head) {
    if (!job_seen_) {
      if (head.name != "job" || head.filename) {
        co_return problem(Problem::bad_request,
                          fmt::format("the first part must be the job's JSON, named 'job' (got "
                                      "the part '{}')",
                                      head.name));
      }
      job_seen_ = true;
      co_return std::nullopt;
    }
    if (!job_read_) co_return problem(Problem::bad_request, "the job part has not ended");
    auto def = std::ranges::find(file_params_, head.name, &core::ParamDef::name);
    if (def == file_params_.end()) {
      co_return problem(Problem::unprocessable,
                        fmt::format("params.{}: task '{}' has no file parameter '{}'", head.name,
                                    task_, head.name),
                        "params." + head.name);
    }
    in_file_ = true;
    co_return co_await stager_.begin(*def);
  }

  std::optional<Response> job_part_ends() {
    auto parsed = parse_submit(json_);
    if (!parsed) return problem(Problem::bad_request, parsed.error().message, parsed.error().field);
    if (parsed->task.empty()) {
      return problem(Problem::unprocessable,
                     "files go with catalog tasks: a raw command takes none", "task");
    }
    const core::TaskDef* task = o_.catalog().find(parsed->task);
    if (task == nullptr) {
      return problem(Problem::unprocessable,
                     fmt::format("unknown task '{}' (vramq tasks, or GET /v1/tasks, lists them)",
                                 parsed->task),
                     "task");
    }
    task_ = task->name;
    for (const core::ParamDef& p : task->params) {
      if (p.type == core::ParamType::file) file_params_.push_back(p);
    }
    stager_.sha().update(json_);
    stager_.sha().update(std::string_view("\0", 1));
    job_read_ = true;
    return std::nullopt;
  }

  service::Orchestrator& o_;
  MultipartReader reader_;
  std::vector<MultipartReader::Event> events_;
  Stager stager_;
  std::optional<std::uint64_t> content_length_;
  std::size_t json_limit_;
  std::string json_;
  std::string task_;
  std::vector<core::ParamDef> file_params_;  // the task's (copies: a reload may replace it)
  bool started_ = false;
  bool job_seen_ = false;  // its head
  bool job_read_ = false;  // all of it
  bool in_file_ = false;
};

}  // namespace

boost::system::result<std::unique_ptr<BodySink>, Response> upload_reader(
    std::string_view content_type, std::optional<std::uint64_t> content_length,
    service::Orchestrator& o) {
  using R = boost::system::result<std::unique_ptr<BodySink>, Response>;
  auto boundary = form_data_boundary(content_type);
  if (!boundary) {
    // Another multipart type is a type this route does not take; a form without its boundary
    // is a malformed request.
    bool form = core::to_lower(content_type).starts_with("multipart/form-data");
    return problem(form ? Problem::bad_request : Problem::unsupported_media_type,
                   boundary.error().message);
  }
  return R(boost::system::in_place_value,
           std::make_unique<UploadReader>(*boundary, content_length, o));
}

asio::awaitable<std::optional<Response>> stage_data_urls(service::SubmitRequest& req,
                                                         service::Orchestrator& o) {
  const core::TaskDef* task = o.catalog().find(req.task);
  if (task == nullptr) co_return std::nullopt;  // make_job says so
  std::vector<core::ParamDef> urls;
  for (const auto& [name, value] : req.params) {
    auto def = std::ranges::find(task->params, name, &core::ParamDef::name);
    const auto* text = std::get_if<std::string>(&value);
    if (def != task->params.end() && def->type == core::ParamType::file && text != nullptr &&
        text->starts_with("data:")) {
      urls.push_back(*def);
    }
  }
  if (urls.empty()) co_return std::nullopt;
  Stager stager(o, req.inputs);
  if (auto r = co_await stager.start(0); r) co_return r;
  for (const core::ParamDef& def : urls) {
    auto given = std::ranges::find(req.params, def.name, [](const auto& p) { return p.first; });
    auto bytes = util::decode_data_url(std::get<std::string>(given->second));
    req.params.erase(given);
    if (!bytes) {
      co_return problem(
          Problem::bad_request,
          fmt::format("params.{}: not a valid data: URL (data:[TYPE][;base64],DATA)", def.name),
          "params." + def.name);
    }
    if (auto r = co_await stager.begin(def); r) co_return r;
    if (auto r = co_await stager.data(*bytes); r) co_return r;
    if (auto r = co_await stager.end(); r) co_return r;
  }
  req.inputs = stager.staged();
  co_return std::nullopt;
}

}  // namespace vramq::server
