#include "util/untrusted_files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <string_view>

namespace vramq::util {

OpenFile::~OpenFile() {
  ::close(fd_);
}

std::string OpenFile::read(std::int64_t offset, std::size_t max_bytes) const {
  std::string buf(max_bytes, '\0');
  std::size_t got = 0;
  while (got < max_bytes) {  // a regular file reads short only at its end (or on a signal)
    ssize_t n =
        ::pread(fd_, buf.data() + got, max_bytes - got, offset + static_cast<std::int64_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  buf.resize(got);
  return buf;
}

boost::system::result<std::shared_ptr<OpenFile>, OpenError> regular_file(int fd,
                                                                         const std::string& name) {
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return OpenError{OpenErrc::not_a_file, "'" + name + "' is not a regular file"};
  }
  return std::make_shared<OpenFile>(fd, static_cast<std::int64_t>(st.st_size));
}

boost::system::result<std::shared_ptr<OpenFile>, OpenError> open_untrusted(
    const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT || err == ENOTDIR) return OpenError{OpenErrc::not_found, "no file " + path};
    if (err == ELOOP) {
      return OpenError{OpenErrc::not_a_file, "'" + path + "' is a symlink, which is not followed"};
    }
    return OpenError{OpenErrc::failed, "cannot open " + path + ": " + std::strerror(err)};
  }
  return regular_file(fd, path);
}

std::optional<std::int64_t> regular_size(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  return static_cast<std::int64_t>(st.st_size);
}

bool write_untrusted(const std::string& path, std::string_view data, int mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK,
                  static_cast<mode_t>(mode));
  if (fd < 0) return false;
  struct stat st {};
  bool ok =
      ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 1 && ::ftruncate(fd, 0) == 0;
  while (ok && !data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) data.remove_prefix(static_cast<std::size_t>(n));
  }
  ::close(fd);
  return ok;
}

std::string read_range(const std::string& path, std::int64_t offset, std::size_t max_bytes) {
  auto file = open_untrusted(path);
  if (!file || offset < 0) return {};
  return (*file)->read(offset, max_bytes);
}

std::string read_tail(const std::string& path, std::size_t max_bytes) {
  auto file = open_untrusted(path);
  if (!file) return {};
  std::int64_t from =
      std::max<std::int64_t>(0, (*file)->size() - static_cast<std::int64_t>(max_bytes));
  return (*file)->read(from, max_bytes);
}

std::optional<std::int64_t> read_mb_file(const std::string& path) {
  if (path.empty()) return std::nullopt;
  std::string text = read_range(path, 0, 63);
  std::string_view v(text);
  while (!v.empty() && (v.back() == '\n' || v.back() == ' '))
    v.remove_suffix(1);
  std::int64_t mb = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), mb);
  if (ec != std::errc{} || end != v.data() + v.size() || v.empty() || mb < 0) return std::nullopt;
  return mb;
}

}  // namespace vramq::util
