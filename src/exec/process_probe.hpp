#pragma once
// Small blocking helpers about processes and log files (they read /proc and files: call them off
// the event loop, or at start-up).

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

namespace vramq::exec {

// What /proc/PID/stat says about a process that vramq uses.
struct ProcStat {
  std::string comm;              // field 2, the command name (at most 15 bytes)
  std::int64_t ppid = 0;         // field 4
  std::int64_t pgid = 0;         // field 5
  std::int64_t start_ticks = 0;  // field 22, clock ticks since boot
};
std::optional<ProcStat> read_proc_stat(pid_t pid);

// starttime (field 22 of /proc/PID/stat, clock ticks since boot); nullopt if no such process.
std::optional<std::int64_t> process_start_ticks(pid_t pid);

// Kills the process group `pgid` with SIGKILL if its leader is still the same process (same
// start time), so that a PID reused since is never signalled. Returns whether it signalled.
bool kill_group_if_same(pid_t pgid, std::int64_t start_ticks);

// Up to `max_bytes` of a file from `offset` ("" at or past its end, or if it does not exist).
std::string read_range(const std::string& path, std::int64_t offset, std::size_t max_bytes);

// A whole number of MiB that a job (or its batch step) left in a file, alone on its line
// (nullopt: no such file, or not such a number).
std::optional<std::int64_t> read_mb_file(const std::string& path);

// The last `max_bytes` of a file ("" if it does not exist).
std::string read_tail(const std::string& path, std::size_t max_bytes);

}  // namespace vramq::exec
