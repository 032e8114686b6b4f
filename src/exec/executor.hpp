#pragma once
// How jobs run: the orchestrator asks an Executor to start a job and later to signal it, and the
// executor reports the exit once. Local today; a per-job supervisor (re-adoption across server
// restarts) and Slurm slot in behind the same interface.

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <boost/system/result.hpp>

#include "core/job.hpp"

namespace vramq::exec {

struct LaunchSpec {
  core::JobId job = 0;
  std::vector<std::string> argv;  // argv[0] is a path; executed with execve, never a shell
  std::string cwd;
  std::vector<std::string> env;  // "KEY=VALUE", the job's whole environment
  std::string stdout_path;
  std::string stderr_path;
};

struct Launched {
  pid_t pid = 0;                 // also the process group id
  std::int64_t start_ticks = 0;  // /proc/PID/stat starttime: tells this process from a reused PID
};

struct SpawnError {
  int errno_value = 0;
  std::string message;  // names the program and the cause
};

struct ExitStatus {
  std::optional<int> exit_code;
  std::optional<int> signal;
};

class Executor {
 public:
  using ExitHandler = std::function<void(ExitStatus)>;
  virtual ~Executor() = default;
  // On success `on_exit` is called exactly once, on the event loop, after the job's main process
  // has exited and the rest of its process group has been killed.
  virtual boost::system::result<Launched, SpawnError> start(const LaunchSpec& spec,
                                                            ExitHandler on_exit) = 0;
  // Sends `sig` to the job's whole process group; a no-op for jobs no longer running.
  virtual void signal_group(core::JobId job, int sig) = 0;
  virtual std::size_t running() const = 0;
};

}  // namespace vramq::exec
