#include "util/proc_stat.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <string_view>

namespace vramq::util {

std::optional<ProcStat> read_proc_stat(pid_t pid) {
  // read(2), not a stream: a process that exits while its stat is read makes the read fail
  // (ESRCH), which libstdc++'s filebuf reports by throwing, even with exceptions off.
  std::string path = "/proc/" + std::to_string(pid) + "/stat";
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  char buf[1024];  // a stat line is well under this; the fields needed come first
  ssize_t n = ::read(fd, buf, sizeof buf);
  ::close(fd);
  if (n <= 0) return std::nullopt;
  std::string stat(buf, static_cast<std::size_t>(n));
  // The command name (field 2) may contain spaces and parentheses: count from the last ')'.
  std::size_t open = stat.find('(');
  std::size_t close = stat.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close < open) return std::nullopt;
  ProcStat out;
  out.comm = stat.substr(open + 1, close - open - 1);
  std::string_view rest = std::string_view(stat).substr(std::min(close + 2, stat.size()));
  auto number = [&](std::int64_t& v) {
    auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), v);
    return ec == std::errc{};
  };
  for (int field = 3; field <= 22; ++field) {
    if (field == 4 && !number(out.ppid)) return std::nullopt;
    if (field == 5 && !number(out.pgid)) return std::nullopt;
    if (field == 22) return number(out.start_ticks) ? std::optional(out) : std::nullopt;
    std::size_t space = rest.find(' ');
    if (space == std::string_view::npos) return std::nullopt;
    rest.remove_prefix(space + 1);
  }
  return std::nullopt;
}

std::optional<std::int64_t> process_start_ticks(pid_t pid) {
  auto stat = read_proc_stat(pid);
  if (!stat) return std::nullopt;
  return stat->start_ticks;
}

bool kill_group_if_same(pid_t pgid, std::int64_t start_ticks) {
  if (pgid <= 1) return false;
  std::optional<std::int64_t> now = process_start_ticks(pgid);
  if (!now || *now != start_ticks) return false;
  return ::kill(-pgid, SIGKILL) == 0;
}

}  // namespace vramq::util
