#pragma once
// The supervisor launcher (`vramq-supervise --launcher`), issue 23: exec'd once per server start,
// it forks (without exec) a job's supervisor on each request, so that a job costs one exec (its
// own) instead of two. Like Android's zygote, it is small and single-threaded, so that a fork of
// it is cheap and safe to carry on in: the child becomes exactly what an exec'd supervisor would
// be (its own session, signals as at an exec, the request's descriptors as 3, 4, 5 and nothing
// else of the launcher's, the job's environment) and runs run_supervisor(). It is then on its
// own: it outlives the launcher and the server alike, and a server re-adopts it through its run
// record as any other.
//
// The launcher reads requests (exec/launch_request.hpp) from the server's socket, one at a time;
// each is answered with the child's PID by the child itself (once it is in its own session), or
// with the fork's errno by the launcher. Its command line names the run directory of the server
// it serves (`--launcher DIR`), which its children show too (a fork keeps it). It ignores SIGCHLD
// (the kernel reaps the supervisors that end while it lives; init those that end after it) and
// exits when the server's end closes. What the server does when it dies or stalls:
// exec/launcher_client.hpp.

namespace vramq::exec {

// Serves the requests arriving on `control` (a SOCK_SEQPACKET socket) until it closes; returns
// the launcher's exit code.
int run_launcher(int control);

}  // namespace vramq::exec
