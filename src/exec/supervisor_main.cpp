// vramq-supervise: the per-job supervisor (exec/supervisor.hpp). Started by the server only.

#include <cstdio>
#include <string>
#include <vector>

#include "exec/supervisor.hpp"

int main(int argc, char** argv, char** envp) {
  std::vector<std::string> args(argv + 1, argv + argc);
  vramq::exec::ParsedOptions parsed = vramq::exec::parse_supervisor_args(args);
  if (!parsed.error.empty()) {
    std::fprintf(stderr, "vramq-supervise: %s\n", parsed.error.c_str());
    return 2;
  }
  return vramq::exec::run_supervisor(parsed.options, envp);
}
