#include "util/proc_stat.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <string_view>
#include <vector>

namespace vramq::util {
namespace {

// The children of `pid`, from /proc/PID/task/*/children (every thread's: a child belongs to
// the thread that forked it).
std::vector<pid_t> children_of(pid_t pid) {
  std::vector<pid_t> out;
  std::string tasks = "/proc/" + std::to_string(pid) + "/task";
  DIR* dir = ::opendir(tasks.c_str());
  if (dir == nullptr) return out;  // gone meanwhile
  while (dirent* e = ::readdir(dir)) {
    if (e->d_name[0] == '.') continue;
    int fd = ::open((tasks + "/" + e->d_name + "/children").c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    std::string text;
    char buf[4096];
    ssize_t n = 0;
    while ((n = ::read(fd, buf, sizeof buf)) > 0)
      text.append(buf, static_cast<std::size_t>(n));
    ::close(fd);
    std::string_view rest(text);
    while (!rest.empty()) {
      std::size_t space = rest.find(' ');
      std::string_view one = rest.substr(0, space);
      pid_t child = 0;
      auto [p, ec] = std::from_chars(one.data(), one.data() + one.size(), child);
      if (ec == std::errc{} && child > 0) out.push_back(child);
      rest.remove_prefix(space == std::string_view::npos ? rest.size() : space + 1);
    }
  }
  ::closedir(dir);
  return out;
}

// Every process's parent, from one pass over all of /proc (kernels without children files).
std::multimap<std::int64_t, pid_t> process_table() {
  std::multimap<std::int64_t, pid_t> children;
  if (DIR* proc = ::opendir("/proc")) {
    while (dirent* e = ::readdir(proc)) {
      pid_t pid = 0;
      std::string_view name(e->d_name);
      auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), pid);
      if (ec != std::errc{} || end != name.data() + name.size()) continue;
      if (auto stat = read_proc_stat(pid)) children.emplace(stat->ppid, pid);
    }
    ::closedir(proc);
  }
  return children;
}

}  // namespace

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
  if (now && *now != start_ticks) return false;  // the PID is another process's now
  return ::kill(-pgid, SIGKILL) == 0;
}

// Every process below this one (children, theirs, ...). The children files cost a read per
// descendant; without them (CONFIG_PROC_CHILDREN off) the whole process table is read.
std::vector<pid_t> descendants() {
  static const bool has_children_files =
      ::access(("/proc/self/task/" + std::to_string(::getpid()) + "/children").c_str(), R_OK) == 0;
  std::multimap<std::int64_t, pid_t> table;
  if (!has_children_files) table = process_table();
  std::vector<pid_t> out;
  std::vector<pid_t> todo{::getpid()};
  while (!todo.empty()) {
    pid_t parent = todo.back();
    todo.pop_back();
    std::vector<pid_t> kids;
    if (has_children_files) {
      kids = children_of(parent);
    } else {
      auto [begin, stop] = table.equal_range(parent);
      for (auto it = begin; it != stop; ++it)
        kids.push_back(it->second);
    }
    out.insert(out.end(), kids.begin(), kids.end());
    todo.insert(todo.end(), kids.begin(), kids.end());
  }
  return out;
}

}  // namespace vramq::util
