// vramq-supervise: the per-job supervisor (exec/supervisor.hpp), or with `--launcher` the
// supervisor launcher that forks them (exec/launcher.hpp). Started by the server only.

#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "exec/launcher.hpp"
#include "exec/supervisor.hpp"

int main(int argc, char** argv, char** envp) {
  std::vector<std::string> args(argv + 1, argv + argc);
  // The launcher's socket to the server is its descriptor 3 (exec/launcher_client.cpp); the
  // argument after --launcher only says whose it is (the server's run directory).
  if (!args.empty() && args[0] == "--launcher") return vramq::exec::run_launcher(3);
  vramq::exec::ParsedOptions parsed = vramq::exec::parse_supervisor_args(args);
  if (!parsed.error.empty()) {
    std::fprintf(stderr, "vramq-supervise: %s\n", parsed.error.c_str());
    return 2;
  }
  try {
    return vramq::exec::run_supervisor(parsed.options, envp);
  } catch (const std::exception& e) {
    // Only a bug gets here: the job dies with this process (PR_SET_PDEATHSIG), and the server,
    // finding no end on record, records the run as lost.
    std::fprintf(stderr, "vramq-supervise: %s\n", e.what());
    return 1;
  }
}
