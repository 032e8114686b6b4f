#pragma once
// `vramq top`: a full-screen view of the server, live from GET /v1/events (cli/top_view draws
// it). Keys: q quits, the arrows (or j/k) select a job, c cancels the selected job after a y/n
// question. The terminal is put back as it was however it ends (q, Ctrl-C, SIGTERM, SIGHUP).
// `once`: prints one screen and exits (no terminal needed: for scripts and logs).

#include "cli/client_commands.hpp"

namespace vramq::cli {

int top(const ClientOptions& c, bool once);

}  // namespace vramq::cli
