#pragma once
// The server's side of the supervisor launcher (exec/launcher.hpp): starts it on the first launch,
// sends it one request at a time and waits for the answer (a fork of a small process: well under
// a millisecond, less than the spawn it replaces kept the loop), and restarts it when it has gone.
// Thread safety: the loop's thread only (LocalExecutor's).
//
// What can go wrong, and what the caller is told:
//   - no launcher (it cannot be started, or died less than a second after its start), a request
//     too large for one message, or a fork that failed: `not_forked`, nothing was started, and
//     the caller starts the supervisor the old way (a spawn);
//   - the launcher dies or stalls (kLaunchTimeout) after taking a request: it is killed, and the
//     answer is `unknown`: a supervisor may have been forked. The caller decides from the attach
//     socket it sent (exec/local_executor.cpp): a forked supervisor holds its other end.
// The loop waits for the answer: up to kLaunchTimeout for a stalled launcher (then the caller's
// decision, up to as long again); a launcher that stalled is not started again for a second.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <span>
#include <string>

#include "exec/launch_request.hpp"

namespace vramq::exec {

class LauncherClient {
 public:
  static constexpr std::chrono::milliseconds kLaunchTimeout{2000};

  // `binary`: vramq-supervise. Nothing starts before the first launch.
  // `label`: shown on its command line (the server's run directory).
  LauncherClient(std::string binary, std::string label,
                 std::chrono::milliseconds timeout = kLaunchTimeout);
  // Closes the socket: the launcher exits; the supervisors it forked run on.
  ~LauncherClient();
  LauncherClient(const LauncherClient&) = delete;
  LauncherClient& operator=(const LauncherClient&) = delete;

  enum class Outcome { forked, not_forked, unknown };
  struct Result {
    Outcome outcome = Outcome::not_forked;
    pid_t pid = 0;    // forked: the supervisor's
    std::string why;  // not_forked, unknown: for the log
  };
  // A supervisor with `args` (its command line less argv[0]) and `env`, its descriptors
  // 3, 4(, 5) being `fds` in that order.
  Result launch(std::span<const std::string> args, std::span<const std::string> env,
                std::span<const int> fds);
  Result launch(const LaunchRequest& request, std::span<const int> fds) {
    return launch(request.args, request.env, fds);
  }

  pid_t pid() const { return pid_; }  // the launcher's now (0: none)
  // Counted since the start (vramq_supervisor_starts_total, _launcher_restarts_total).
  struct Counts {
    std::uint64_t forked = 0;
    std::uint64_t not_forked = 0;
    std::uint64_t unknown = 0;
    std::uint64_t starts = 0;  // launchers started, the first included
  };
  const Counts& counts() const { return counts_; }

 private:
  bool running();  // starts one when none runs (and the last did not die young)
  void forget(bool kill);

  std::string binary_;
  std::string label_;
  std::chrono::milliseconds timeout_;
  int control_ = -1;
  int pidfd_ = -1;  // the launcher's, for a kill that cannot hit a reused PID
  pid_t pid_ = 0;
  std::chrono::steady_clock::time_point started_at_{};
  std::chrono::steady_clock::time_point retry_at_{};
  Counts counts_;
};

}  // namespace vramq::exec
