#pragma once
// A Unix user that jobs run as (issue 24: `--run-as`, an owner's `run_as`), resolved once by the
// server through NSS (getpwnam_r, getgrouplist): the supervisor, static and single-threaded,
// only applies the numbers (setgroups, setresgid, setresuid) and never looks a name up.

#include <sys/types.h>

#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "util/error.hpp"

namespace vramq::util {

struct UnixUser {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;              // its primary group
  std::vector<gid_t> groups;  // every group it is in (initgroups' list), the primary included
  std::string home;
  bool operator==(const UnixUser&) const = default;
};

// The user named `name`; an Error naming it when there is none (or NSS fails). Blocking (NSS may
// ask a directory server): not on the event loop.
Result<UnixUser> lookup_unix_user(std::string_view name);

// Hands the directory `dir` (not a link to one) to `uid`:`gid`, with `mode` (-1: as it is): a
// job's or a worker's own directory, made by the server, to the user it runs as (0700), or back
// to the server's own when a retry runs as it. What is inside keeps its owner. The errno of a
// failure.
std::error_code give_dir(const std::string& dir, uid_t uid, gid_t gid, int mode = 0700);

// The environment a job of `user` sees as who it is (HOME, USER, LOGNAME).
std::vector<std::pair<std::string, std::string>> user_environment(const UnixUser& user);

// The user this process runs as (its effective uid), as a name ("uid N" when it has none).
std::string current_user_name();

}  // namespace vramq::util
