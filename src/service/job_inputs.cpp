#include "service/job_inputs.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <system_error>

#include "util/confined_files.hpp"
#include "util/unique_fd.hpp"

namespace vramq::service {
namespace {

using util::errno_text;

// fsync of a file or directory by path, without following a link.
int sync_path(const std::string& path, bool directory) {
  int flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW | (directory ? O_DIRECTORY : O_NONBLOCK);
  util::UniqueFd fd(::open(path.c_str(), flags));
  if (!fd.valid()) return errno;
  return ::fsync(fd.get()) == 0 ? 0 : errno;
}

// The job a name in uploads/ belongs to ("job-ID"); 0 for anything else.
core::JobId job_of(std::string_view name) {
  if (!name.starts_with("job-")) return 0;
  core::JobId id = 0;
  auto [end, ec] = std::from_chars(name.data() + 4, name.data() + name.size(), id);
  return ec == std::errc{} && end == name.data() + name.size() ? id : 0;
}

}  // namespace

StagedInputs::StagedInputs(std::shared_ptr<JobInputs> inputs, std::string dir)
    : inputs_(std::move(inputs)), dir_(std::move(dir)) {}

StagedInputs::~StagedInputs() {
  if (!adopted_) inputs_->remove_later(dir_);
}

core::Result<void> JobInputs::prepare() {
  const std::string& root = root_;
  if (::mkdir(root.c_str(), 0700) != 0 && errno != EEXIST) {
    return core::Error{fmt::format("cannot create {}: {}", root, errno_text(errno))};
  }
  struct stat st {};
  if (::lstat(root.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != ::geteuid()) {
    return core::Error{fmt::format("{} must be a directory of vramq's user", root)};
  }
  if ((st.st_mode & 077) != 0 && ::chmod(root.c_str(), 0700) != 0) {
    return core::Error{fmt::format("cannot make {} private: {}", root, errno_text(errno))};
  }
  std::string jobs = root_.substr(0, root_.size() - std::string_view("uploads").size()) + "jobs";
  struct stat js {};
  if (::stat(jobs.c_str(), &js) == 0 && js.st_dev != st.st_dev) {
    return core::Error{
        fmt::format("{} and {} are on different filesystems: uploads are moved "
                    "into jobs' directories by rename",
                    root, jobs)};
  }
  return {};
}

JobInputs::JobInputs(boost::asio::io_context& ioc, std::string data_dir)
    : root_(std::move(data_dir) + "/uploads"), worker_(ioc.get_executor()) {}

std::string JobInputs::job_dir_of(core::JobId id) const {
  return fmt::format("{}/job-{}", root_, id);
}

boost::system::result<std::shared_ptr<StagedInputs>, int> JobInputs::stage() {
  std::string tmpl = root_ + "/tmp-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) return errno;
  return std::make_shared<StagedInputs>(shared_from_this(), std::move(tmpl));
}

boost::asio::awaitable<JobInputs::Kept> JobInputs::keep(std::string from, std::string to,
                                                        std::vector<std::string> names) {
  // Not a coroutine: the lambda's captures must not live in a coroutine's frame (g++ 12).
  return worker_.async_run(
      [from = std::move(from), to = std::move(to), names = std::move(names), root = root_] {
        // Opened to the job's user (0755 and 0644) here, while uploads/ (0700) still hides them:
        // once they are in the job's directory, root touches nothing but the rename.
        util::UniqueFd dir(::open(from.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!dir.valid()) return Kept{.error = errno};
        if (::fchmod(dir.get(), 0755) != 0) return Kept{.error = errno};
        for (const std::string& n : names) {
          util::UniqueFd f(
              ::openat(dir.get(), n.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
          if (!f.valid()) return Kept{.error = errno};
          if (::fchmod(f.get(), 0644) != 0 || ::fsync(f.get()) != 0) return Kept{.error = errno};
        }
        if (::fsync(dir.get()) != 0) return Kept{.error = errno};
        // A directory of the same id left by a server that died before storing that job.
        if (std::error_code ec = util::remove_tree(to)) return Kept{.error = ec.value()};
        if (::rename(from.c_str(), to.c_str()) != 0) return Kept{.error = errno};
        return Kept{.error = sync_path(root, true), .renamed = true};
      },
      boost::asio::use_awaitable);
}

boost::asio::awaitable<int> JobInputs::adopt(StagedInputs& staged, core::JobId id) {
  std::string from = staged.dir();
  std::string to = job_dir_of(id);
  std::vector<std::string> names;
  for (const StagedFile& f : staged.files)
    names.push_back(f.param);
  Kept kept = co_await keep(from, to, std::move(names));
  if (kept.renamed) {  // the job's now, even when a sync failed: discard(id) removes it
    staged.adopted_ = true;
    staged.dir_ = to;
    staged_.insert(id);
  }
  co_return kept.error;
}

core::Result<void> JobInputs::move_into(core::JobId id, const std::string& job_dir) {
  if (!staged_.contains(id)) return {};  // none, or moved at an earlier attempt
  std::string from = job_dir_of(id);
  std::string to = job_dir + "/inputs";
  // A rename alone (adopt() opened the files to the job's user): a link the job's user might
  // have planted as inputs is replaced, never followed.
  if (::rename(from.c_str(), to.c_str()) != 0 && errno != ENOENT) {
    return core::Error{fmt::format("cannot move its uploaded files to {}: {}", to,
                                   errno_text(errno))};  // kept for a retry, or discard()
  }
  staged_.erase(id);
  return {};
}

void JobInputs::discard(core::JobId id) {
  if (staged_.erase(id) != 0) remove_later(job_dir_of(id));
}

void JobInputs::remove_later(std::string dir) {
  worker_.async_run(
      [dir = std::move(dir)] {
        if (std::error_code ec = util::remove_tree(dir)) {
          spdlog::warn("uploads: cannot remove {}: {}", dir, ec.message());
        }
        return 0;
      },
      [](int) {});
}

void JobInputs::sweep(const std::set<core::JobId>& waiting) {
  std::unique_ptr<DIR, int (*)(DIR*)> list(::opendir(root_.c_str()), ::closedir);
  if (!list) return;
  std::vector<std::string> gone;
  while (dirent* e = ::readdir(list.get())) {
    std::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    if (core::JobId id = job_of(name); id == 0 || !waiting.contains(id)) {
      gone.push_back(root_ + "/" + std::string(name));
    } else {
      staged_.insert(id);
    }
  }
  for (const std::string& dir : gone) {
    if (std::error_code ec = util::remove_tree(dir)) {
      spdlog::warn("uploads: cannot remove {}: {}", dir, ec.message());
    }
  }
  if (!gone.empty()) spdlog::info("uploads: removed {} left by the last server", gone.size());
}

}  // namespace vramq::service
