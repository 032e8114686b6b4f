#pragma once
// The per-job supervisor (the `vramq-supervise` binary): the job's parent, like Slurm's
// slurmstepd or a containerd shim. The server spawns one per run, in its own session, and it:
//   - starts the job in its own process group (execve of an argv; the job dies with it:
//     PR_SET_PDEATHSIG), as a child subreaper, so descendants that leave the group, start their
//     own session or double-fork come back to it and end with the job;
//   - gives the job pipes for stdout and stderr and copies them into the job's log files,
//     counting, so that a log stops exactly at its cap (the job is then stopped, `log_limit`);
//     the job gets the umask the server was started with, whatever the server itself uses;
//   - relays signals (the server's `signal N` lines, or SIGTERM/SIGINT/SIGHUP sent to it) to every
//     process of the job;
//   - once the job's main process exits, kills what remains of the job, reaps everything, copies
//     what is left in the pipes, records the exit status and exits;
//   - for a warm worker (--stdio-fd), gives it the server's socket as stdin and stdout and switches
//     its stderr log to the file the server names (each run's own log);
//   - lets a server (re)attach on a unix socket; with no server attached for the orphan grace it
//     ends the job (SIGTERM, SIGKILL after the kill grace) and records that it did.
// Files and lines it shares with the server: exec/supervisor_protocol.hpp. Blocking,
// single-threaded, no Boost: it is small so that a spawn through it stays cheap.

#include <cstdint>
#include <string>
#include <vector>

namespace vramq::exec {

struct SupervisorOptions {
  int run_fd = -1;  // its run file (flock()ed, inherited from the server): its record goes there
  std::int64_t job = 0;
  int attempt = 1;
  std::string gpus;  // recorded for the server ("0,1")
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
};

// Parses the command line the server builds (LocalExecutor); on an error, a message for stderr.
struct ParsedOptions {
  SupervisorOptions options;
  std::string error;
};
ParsedOptions parse_supervisor_args(const std::vector<std::string>& args);

// Runs the job to its end; returns the supervisor's own exit code (0 once the record is written).
int run_supervisor(const SupervisorOptions& options, char** envp);

}  // namespace vramq::exec
