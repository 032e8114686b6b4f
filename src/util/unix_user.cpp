#include "util/unix_user.hpp"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace vramq::util {

namespace {

// getpwnam_r/getpwuid_r into a buffer grown until the entry fits.
template <class Lookup>
int passwd_entry(Lookup lookup, passwd& entry, std::vector<char>& buf, passwd*& found) {
  buf.resize(1024);
  for (;;) {
    int err = lookup(&entry, buf.data(), buf.size(), &found);
    if (err != ERANGE || buf.size() >= (1U << 20)) return err;
    buf.resize(buf.size() * 2);
  }
}

}  // namespace

Result<UnixUser> lookup_unix_user(std::string_view name) {
  std::string key(name);
  passwd entry{};
  passwd* found = nullptr;
  std::vector<char> buf;
  int err = passwd_entry([&](passwd* e, char* b, std::size_t n,
                             passwd** f) { return ::getpwnam_r(key.c_str(), e, b, n, f); },
                         entry, buf, found);
  if (found == nullptr) {
    return Error{err == 0 ? "no Unix user '" + key + "' on this host"
                          : "cannot look up the Unix user '" + key + "': " + std::strerror(err)};
  }
  UnixUser user{.name = key,
                .uid = entry.pw_uid,
                .gid = entry.pw_gid,
                .groups = {},
                .home = entry.pw_dir != nullptr ? entry.pw_dir : "/"};
  int count = 16;
  for (;;) {
    user.groups.resize(static_cast<std::size_t>(count));
    int asked = count;
    if (::getgrouplist(key.c_str(), user.gid, user.groups.data(), &count) >= 0) break;
    if (count <= asked) count = asked * 2;  // some NSS modules do not say how many
    if (count > 65536) return Error{"the Unix user '" + key + "' is in too many groups"};
  }
  user.groups.resize(static_cast<std::size_t>(count));
  return user;
}

std::error_code give_dir(const std::string& dir, uid_t uid, gid_t gid, int mode) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  struct stat st {};
  bool ok = fd >= 0 && ::fstat(fd, &st) == 0 &&
            ((st.st_uid == uid && st.st_gid == gid) || ::fchown(fd, uid, gid) == 0) &&
            (mode < 0 || (st.st_mode & 07777) == static_cast<mode_t>(mode) ||
             ::fchmod(fd, static_cast<mode_t>(mode)) == 0);
  int err = ok ? 0 : errno;
  if (fd >= 0) ::close(fd);
  return {err, std::generic_category()};
}

std::vector<std::pair<std::string, std::string>> user_environment(const UnixUser& user) {
  return {{"HOME", user.home}, {"USER", user.name}, {"LOGNAME", user.name}};
}

std::string current_user_name() {
  passwd entry{};
  passwd* found = nullptr;
  std::vector<char> buf;
  uid_t uid = ::geteuid();
  passwd_entry(
      [&](passwd* e, char* b, std::size_t n, passwd** f) { return ::getpwuid_r(uid, e, b, n, f); },
      entry, buf, found);
  if (found == nullptr || found->pw_name == nullptr) return "uid " + std::to_string(uid);
  return found->pw_name;
}

}  // namespace vramq::util
