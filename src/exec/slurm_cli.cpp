#include "exec/slurm_cli.hpp"

#include "exec/command.hpp"

namespace vramq::exec {

core::Result<std::vector<SlurmJobStatus>> squeue_jobs(std::chrono::milliseconds timeout) {
  std::vector<std::string> argv{"squeue", "--json"};
  CommandResult r = run_command(argv, {}, timeout);
  if (!r.ok()) return core::Error{"squeue: " + r.failure()};
  auto jobs = parse_squeue_json(r.out);
  if (!jobs && !r.err.empty()) return core::Error{"squeue: " + r.first_error_line()};
  return jobs;
}

core::Result<std::vector<SlurmNode>> scontrol_nodes(std::chrono::milliseconds timeout) {
  std::vector<std::string> argv{"scontrol", "show", "node", "-o"};
  CommandResult r = run_command(argv, {}, timeout);
  if (!r.ok()) return core::Error{"scontrol show node: " + r.failure()};
  return parse_scontrol_nodes(r.out);
}

}  // namespace vramq::exec
