#pragma once
// What /proc says about a process, and a group kill that never hits a reused PID. Blocking (a
// /proc read): call these off the event loop, or at start-up. Boost-free: the supervisor uses it.

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace vramq::util {

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
// start time), so that a PID reused since is never signalled; or if the leader is gone (reaped)
// while its group lives on: Linux does not give a PID to a new process while a group still
// has it as its id, so that group can only be the leader's. Returns whether it signalled.
bool kill_group_if_same(pid_t pgid, std::int64_t start_ticks);

// Every process below this one (children, theirs, ...), from /proc/PID/task/*/children, or from
// the whole process table where the kernel has no children files.
std::vector<pid_t> descendants();

}  // namespace vramq::util
