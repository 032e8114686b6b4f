#pragma once
// The Slurm tools' answers that several parts read, fetched and parsed in one place: every job
// the controller remembers (`squeue --json`) and every node (`scontrol show node -o`). Blocking:
// call them off the event loop. An unreachable controller is an error that says so (squeue
// --json exits 0 then, with its errors in the JSON and the cause on stderr).

#include <chrono>
#include <vector>

#include "core/error.hpp"
#include "exec/slurm_status.hpp"

namespace vramq::exec {

core::Result<std::vector<SlurmJobStatus>> squeue_jobs(std::chrono::milliseconds timeout);
core::Result<std::vector<SlurmNode>> scontrol_nodes(std::chrono::milliseconds timeout);

}  // namespace vramq::exec
