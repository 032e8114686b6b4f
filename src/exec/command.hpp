#pragma once
// Runs a short-lived command to completion and captures what it prints (the Slurm CLI tools:
// sbatch, squeue, scontrol, scancel). Blocking: call it off the event loop (a util::Worker).
// The command is executed from argv, never through a shell; its stdin is /dev/null.

#include <chrono>
#include <cstddef>
#include <span>
#include <string>

namespace vramq::exec {

struct CommandResult {
  int exit_code = -1;  // -1: it did not exit normally (signal, timeout, not started)
  int signal = 0;
  std::string out;  // stdout, at most max_bytes
  std::string err;  // stderr, at most max_bytes
  bool timed_out = false;
  std::string spawn_error;  // it could not be started (e.g. not installed): why
  bool ok() const { return exit_code == 0; }
  // One line for logs and errors: the cause (its stderr's first line, the timeout, ...).
  std::string failure() const;
  // What stderr says, first line ("" if nothing): tools that exit 0 on failure say why there.
  std::string first_error_line() const { return err.substr(0, err.find('\n')); }
};

// `argv[0]` is looked up in PATH. `env`: its whole environment ("KEY=VALUE"); empty: the
// server's own. Killed (SIGKILL) once `timeout` has passed; output beyond `max_bytes` per stream
// is read and dropped.
CommandResult run_command(std::span<const std::string> argv, std::span<const std::string> env,
                          std::chrono::milliseconds timeout,
                          std::size_t max_bytes = std::size_t{16} << 20);

}  // namespace vramq::exec
