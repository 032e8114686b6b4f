#include "util/confined_files.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <fmt/format.h>
#include <algorithm>
#include <cerrno>
#include <cstring>

namespace vramq::util {

namespace {

std::int64_t mtime_ms(const struct stat& st) {
  return static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1'000'000;
}

}  // namespace

bool plain_relative_path(std::string_view p) {
  if (p.empty() || p.size() > 4096 || p.front() == '/' || p.find('\0') != std::string_view::npos) {
    return false;
  }
  while (true) {
    std::size_t slash = p.find('/');
    std::string_view part = p.substr(0, slash);
    if (part.empty() || part == "." || part == "..") return false;
    if (slash == std::string_view::npos) return true;
    p.remove_prefix(slash + 1);
  }
}

namespace {

// Lists the directory open as `fd` (taken: closed here) into `out`, names under `prefix`, and
// its subdirectories reached from it (openat, O_NOFOLLOW): a job that swaps a directory for a
// link meanwhile shows a link, never what it points to.
void list_inside(int fd, const std::string& prefix, int depth, std::size_t max_entries,
                 Listing& out) {
  DIR* d = ::fdopendir(fd);
  if (d == nullptr) {
    ::close(fd);
    return;
  }
  while (const dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    if (out.entries.size() >= max_entries) {
      out.truncated = true;
      break;
    }
    struct stat st {};
    if (::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;  // gone
    std::string path = prefix + std::string(name);
    out.entries.push_back({.path = path,
                           .type = S_ISREG(st.st_mode)   ? "file"
                                   : S_ISDIR(st.st_mode) ? "dir"
                                   : S_ISLNK(st.st_mode) ? "symlink"
                                                         : "other",
                           .size = static_cast<std::int64_t>(st.st_size),
                           .modified_ms = mtime_ms(st)});
    if (!S_ISDIR(st.st_mode) || depth <= 0) continue;
    int sub = ::openat(::dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sub >= 0) list_inside(sub, path + "/", depth - 1, max_entries, out);
  }
  ::closedir(d);
}

}  // namespace

Result<Listing> list_files(const std::string& dir, std::size_t max_entries) {
  Listing out;
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return out;  // nothing written yet
    return Error{fmt::format("cannot list {}: {}", dir, std::strerror(errno))};
  }
  list_inside(fd, "", kMaxRemoveDepth, max_entries, out);
  std::ranges::sort(out.entries, {}, &FileEntry::path);
  return out;
}

boost::system::result<std::shared_ptr<OpenFile>, OpenError> open_beneath(
    const std::string& dir, std::string_view relative) {
  if (!plain_relative_path(relative)) {
    return OpenError{OpenErrc::bad_path,
                     fmt::format("'{}' is not a relative path inside the job's directory (no '..', "
                                 "no leading '/', no empty parts)",
                                 relative)};
  }
  int dfd = ::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return OpenError{OpenErrc::not_found, fmt::format("no file '{}'", relative)};
  open_how how{};
  how.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  std::string rel(relative);
  int fd = static_cast<int>(::syscall(SYS_openat2, dfd, rel.c_str(), &how, sizeof how));
  int err = errno;
  ::close(dfd);
  if (fd < 0) {
    if (err == ENOENT || err == ENOTDIR) {
      return OpenError{OpenErrc::not_found, fmt::format("no file '{}'", relative)};
    }
    if (err == ELOOP || err == EXDEV) {
      return OpenError{OpenErrc::not_a_file,
                       fmt::format("'{}' goes through a symlink, which is not followed", relative)};
    }
    return OpenError{OpenErrc::failed,
                     fmt::format("cannot open '{}': {}", relative, std::strerror(err))};
  }
  return regular_file(fd, std::string(relative));
}

namespace {

// Empties the directory open as `fd` (taken: closed here), `depth` levels down at most; the
// first error met, after removing all it could.
std::error_code remove_inside(int fd, int depth) {
  DIR* d = ::fdopendir(fd);
  if (d == nullptr) {
    std::error_code ec(errno, std::generic_category());
    ::close(fd);
    return ec;
  }
  std::error_code first;
  auto keep = [&first](int err) {
    if (!first) first = std::error_code(err, std::generic_category());
  };
  while (const dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    if (::unlinkat(::dirfd(d), e->d_name, 0) == 0 || errno == ENOENT) continue;
    if (errno != EISDIR) {
      keep(errno);
      continue;
    }
    if (depth <= 0) {
      keep(ELOOP);
      continue;
    }
    int sub = ::openat(::dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sub < 0) {
      // Swapped for a link or a file since the unlink: that goes, as anything else would.
      bool swapped =
          (errno == ELOOP || errno == ENOTDIR) && ::unlinkat(::dirfd(d), e->d_name, 0) == 0;
      if (!swapped) keep(errno);
      continue;
    }
    if (std::error_code inner = remove_inside(sub, depth - 1)) keep(inner.value());
    if (::unlinkat(::dirfd(d), e->d_name, AT_REMOVEDIR) != 0 && errno != ENOENT) keep(errno);
  }
  ::closedir(d);
  return first;
}

}  // namespace

std::error_code remove_tree(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return {};
    if (errno == ENOTDIR || errno == ELOOP) {  // a file or a link where the directory was
      return ::unlink(dir.c_str()) == 0 ? std::error_code{}
                                        : std::error_code(errno, std::generic_category());
    }
    return {errno, std::generic_category()};
  }
  std::error_code ec = remove_inside(fd, kMaxRemoveDepth);
  if (::rmdir(dir.c_str()) != 0 && !ec) ec = std::error_code(errno, std::generic_category());
  return ec;
}

}  // namespace vramq::util
