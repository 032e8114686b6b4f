#include "exec/supervisor_seam.hpp"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <cstdio>
#include <cstring>

#include "util/proc_stat.hpp"

namespace vramq::exec {
namespace {

std::string octal(int v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%o", static_cast<unsigned>(v));
  return buf;
}

std::int64_t parse_int(const std::string& s, bool& ok) {
  std::int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  ok = ok && ec == std::errc{} && end == s.data() + s.size();
  return v;
}

std::int64_t parse_octal(const std::string& s, bool& ok) {
  std::int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, 8);
  ok = ok && ec == std::errc{} && end == s.data() + s.size() && v >= 0 && v <= 0777;
  return v;
}

// "1,2,3" (empty: none).
std::vector<std::int64_t> parse_list(const std::string& s, bool& ok) {
  std::vector<std::int64_t> out;
  std::size_t at = 0;
  while (at < s.size()) {
    std::size_t comma = std::min(s.find(',', at), s.size());
    out.push_back(parse_int(s.substr(at, comma - at), ok));
    at = comma + 1;
  }
  return out;
}

// One option's value into its field; false: no such option.
bool take(SupervisorOptions& o, const std::string& a, const std::string& v, bool& ok) {
  if (a == "--job") {
    o.job = parse_int(v, ok);
  } else if (a == "--attempt") {
    o.attempt = static_cast<int>(parse_int(v, ok));
  } else if (a == "--started-at-ms") {
    o.started_at_ms = parse_int(v, ok);
  } else if (a == "--gpus") {
    o.gpus = v;
  } else if (a == "--orphan-grace-ms") {
    o.orphan_grace_ms = parse_int(v, ok);
  } else if (a == "--kill-grace-ms") {
    o.kill_grace_ms = parse_int(v, ok);
  } else if (a == "--program") {
    o.program = v;
  } else if (a == "--cwd") {
    o.cwd = v;
  } else if (a == "--stdout") {
    o.stdout_path = v;
  } else if (a == "--stderr") {
    o.stderr_path = v;
  } else if (a == "--attach-fd") {
    o.attach_fd = static_cast<int>(parse_int(v, ok));
  } else if (a == "--run-fd") {
    o.run_fd = static_cast<int>(parse_int(v, ok));
  } else if (a == "--log-limit-bytes") {
    o.log_limit_bytes = parse_int(v, ok);
  } else if (a == "--log-mode") {
    o.log_mode = static_cast<int>(parse_octal(v, ok));
  } else if (a == "--umask") {
    o.job_umask = static_cast<int>(parse_octal(v, ok));
  } else if (a == "--stdio-fd") {
    o.stdio_fd = static_cast<int>(parse_int(v, ok));
  } else if (a == "--uid") {
    o.uid = parse_int(v, ok);
  } else if (a == "--gid") {
    o.gid = parse_int(v, ok);
  } else if (a == "--groups") {
    o.groups = parse_list(v, ok);
  } else {
    return false;
  }
  return true;
}

// A user to run as is a uid, a gid and groups, each an id (never (uid_t)-1, which
// setresuid() takes for "leave it"); or none of them.
bool valid_user(const SupervisorOptions& o) {
  constexpr std::int64_t kMaxId = 0xFFFF'FFFELL;
  auto id = [](std::int64_t v) { return v >= 0 && v <= kMaxId; };
  if (o.uid == -1 && o.gid == -1) return o.groups.empty();
  return id(o.uid) && id(o.gid) && std::ranges::all_of(o.groups, id);
}

}  // namespace

std::vector<std::string> supervisor_command(const std::string& binary, const SupervisorOptions& o) {
  std::vector<std::string> args{binary,
                                "--run-fd",
                                std::to_string(o.run_fd),
                                "--job",
                                std::to_string(o.job),
                                "--attempt",
                                std::to_string(o.attempt),
                                "--started-at-ms",
                                std::to_string(o.started_at_ms),
                                "--gpus",
                                o.gpus,
                                "--orphan-grace-ms",
                                std::to_string(o.orphan_grace_ms),
                                "--kill-grace-ms",
                                std::to_string(o.kill_grace_ms),
                                "--program",
                                o.program,
                                "--cwd",
                                o.cwd,
                                "--stdout",
                                o.stdout_path,
                                "--stderr",
                                o.stderr_path,
                                "--attach-fd",
                                std::to_string(o.attach_fd),
                                "--log-limit-bytes",
                                std::to_string(o.log_limit_bytes),
                                "--log-mode",
                                octal(o.log_mode)};
  if (o.stdio_fd >= 0) args.insert(args.end(), {"--stdio-fd", std::to_string(o.stdio_fd)});
  if (o.job_umask >= 0) args.insert(args.end(), {"--umask", octal(o.job_umask)});
  if (o.uid >= 0) {
    std::string groups;
    for (std::int64_t g : o.groups)
      groups += (groups.empty() ? "" : ",") + std::to_string(g);
    args.insert(args.end(), {"--uid", std::to_string(o.uid), "--gid", std::to_string(o.gid),
                             "--groups", groups});
  }
  args.emplace_back("--");
  args.insert(args.end(), o.argv.begin(), o.argv.end());
  return args;
}

ParsedOptions parse_supervisor_args(const std::vector<std::string>& args) {
  ParsedOptions out;
  SupervisorOptions& o = out.options;
  bool ok = true;
  std::size_t i = 0;
  for (; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      ++i;
      break;
    }
    if (i + 1 >= args.size()) {
      out.error = "missing value for " + a;
      return out;
    }
    if (!take(o, a, args[++i], ok)) {
      out.error = "unknown option " + a;
      return out;
    }
  }
  o.argv.assign(args.begin() + static_cast<std::ptrdiff_t>(std::min(i, args.size())), args.end());
  if (!ok) {
    out.error = "a number option is not a number";
  } else if (o.run_fd < 0 || o.job == 0 || (o.job < 0 && o.stdio_fd < 0) || o.attempt <= 0 ||
             o.program.empty() || o.argv.empty() || (o.stdout_path.empty() && o.stdio_fd < 0) ||
             o.stderr_path.empty() || !valid_user(o)) {
    out.error =
        "usage: vramq-supervise --run-fd FD --job N --attempt A --program PATH --stdout FILE "
        "--stderr FILE [--cwd DIR] [--gpus LIST] [--orphan-grace-ms MS] [--kill-grace-ms MS] "
        "[--attach-fd FD] [--log-limit-bytes N] [--log-mode OCTAL] [--umask OCTAL] [--stdio-fd FD] "
        "[--uid N --gid N --groups LIST] -- ARGV...";
  }
  return out;
}

std::optional<SocketAddress> abstract_address(std::string_view name) {
  SocketAddress a;
  a.addr.sun_family = AF_UNIX;
  if (name.empty() || name.size() + 1 > sizeof a.addr.sun_path) return std::nullopt;
  std::memcpy(a.addr.sun_path + 1, name.data(), name.size());  // sun_path[0] stays 0
  a.size = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  return a;
}

namespace {
std::optional<ucred> peer_of(int fd) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return std::nullopt;
  return cred;
}
}  // namespace

bool peer_is_same_user(int fd) {
  std::optional<ucred> cred = peer_of(fd);
  return cred && (cred->uid == ::getuid() || cred->uid == 0);
}

bool peer_is_process(int fd, std::int64_t pid, std::int64_t start_ticks) {
  std::optional<ucred> cred = peer_of(fd);
  return cred && pid > 0 && cred->pid == pid && util::process_start_ticks(cred->pid) == start_ticks;
}

}  // namespace vramq::exec
