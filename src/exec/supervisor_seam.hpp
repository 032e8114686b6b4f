#pragma once
// What the server and a supervisor agree on besides the record and the socket's lines
// (exec/supervisor_protocol): the supervisor's command line (built by the server's LocalExecutor,
// parsed by vramq-supervise), the address of a supervisor's abstract unix socket, and who is at
// the other end of such a socket. Both sides use this one module; Boost-free, as the supervisor
// is.

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vramq::exec {

struct SupervisorOptions {
  int run_fd = -1;  // its run file (flock()ed, inherited from the server): its record goes there
  std::int64_t job = 0;
  int attempt = 1;
  std::int64_t started_at_ms = 0;  // the run's start to record (0: when the job's process starts)
  std::string gpus;                // recorded for the server ("0,1")
  std::int64_t orphan_grace_ms = 60'000;
  std::int64_t kill_grace_ms = 10'000;
  std::string program;  // absolute path, already resolved by the server
  std::vector<std::string> argv;
  std::string cwd;
  std::string stdout_path;
  std::string stderr_path;
  int attach_fd = -1;  // the spawning server's end of a connected socket (-1: none)
  // Each log file's cap in bytes; 0: none. Past it the log ends with a note and the job is
  // stopped (SIGTERM, SIGKILL after the kill grace), recorded as `log_limit`.
  std::int64_t log_limit_bytes = 0;
  int log_mode = 0600;  // the log files' permissions
  int job_umask = -1;   // the job's umask (-1: the supervisor's own)
  // A warm worker: its stdin and stdout are this socket (the server's end speaks the worker
  // protocol), so stdout is not logged; its stderr is, into the file the server names last
  // (`stderr PATH` lines), starting with stderr_path. -1: a job's run.
  int stdio_fd = -1;
  // The user the job runs as (the supervisor stays who it is): -1, the supervisor's own. With
  // `groups` (every group of the user, as the server looked them up) it drops to it between
  // fork and exec: setgroups, setresgid, setresuid.
  std::int64_t uid = -1;
  std::int64_t gid = -1;
  std::vector<std::int64_t> groups;

  bool operator==(const SupervisorOptions&) const = default;
};

// The command line that runs the supervisor `binary` with `o` (argv[0] is `binary`).
std::vector<std::string> supervisor_command(const std::string& binary, const SupervisorOptions& o);

// Parses such a command line, less its argv[0]; on an error, a message for stderr.
struct ParsedOptions {
  SupervisorOptions options;
  std::string error;
};
ParsedOptions parse_supervisor_args(const std::vector<std::string>& args);

// An abstract unix socket's address (sun_path[0] is 0: no file to leave behind or to squat);
// nullopt when `name` is empty or too long.
struct SocketAddress {
  sockaddr_un addr{};
  socklen_t size = 0;
};
std::optional<SocketAddress> abstract_address(std::string_view name);

// The supervisor's check of whoever connects: the same user, or root.
bool peer_is_same_user(int fd);

// The server's check of the supervisor it connected to: the very process a record names (its PID
// and its start time, so that a PID reused since is refused).
bool peer_is_process(int fd, std::int64_t pid, std::int64_t start_ticks);

}  // namespace vramq::exec
