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
// What it shares with the server: exec/supervisor_protocol.hpp (files and lines) and
// exec/supervisor_seam.hpp (its command line, its socket's address, the peer checks). Blocking,
// single-threaded, no Boost: it is small so that a spawn through it stays cheap.

#include "exec/supervisor_seam.hpp"

namespace vramq::exec {

// Runs the job to its end; returns the supervisor's own exit code (0 once the record is written).
int run_supervisor(const SupervisorOptions& options, char** envp);

}  // namespace vramq::exec
