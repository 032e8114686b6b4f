#pragma once
// What the Slurm CLI tools answer, parsed (Slurm 22.05): `squeue --json` (every job the
// controller still remembers: state, reason, raw exit status, nodes, GRES per GPU),
// `scontrol show job -o ID` (ExitCode=status:signal) and `scontrol show node -o` (each node's
// GRES and state). Pure: text in, values out; the I/O is exec/slurm_executor's and
// gpu/slurm_gpu_source's.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "core/run_outcome.hpp"

namespace vramq::exec {

struct SlurmJobStatus {
  std::int64_t id = 0;
  std::string name;
  std::string cluster;
  std::string state;            // PENDING, RUNNING, COMPLETED, FAILED, CANCELLED, TIMEOUT, ...
  std::string reason;           // state_reason: Resources, Priority, None, ...
  std::int64_t raw_exit = 0;    // the wait status (768: exit 3; 9: SIGKILL)
  std::int64_t start_time = 0;  // Unix seconds (a pending job's is a guess)
  std::string nodes;
  // GRES each node gives it, by GPU index: "shard:14(IDX:0)" -> {"shard", 14, {0}}.
  struct Gres {
    std::string name;
    std::int64_t count = 0;
    std::vector<int> indexes;
  };
  std::vector<Gres> gres;
};

bool is_pending(std::string_view state);  // PENDING, CONFIGURING, REQUEUED, SUSPENDED...
bool is_running(std::string_view state);  // RUNNING, COMPLETING
bool is_ended(std::string_view state);    // COMPLETED, FAILED, CANCELLED, TIMEOUT, ...

core::Result<std::vector<SlurmJobStatus>> parse_squeue_json(std::string_view text);

// "shard:14(IDX:0)", "gpu:2(IDX:0-1)", "gpu:tesla:1(IDX:1)".
std::optional<SlurmJobStatus::Gres> parse_gres_detail(std::string_view text);

struct SlurmJobEnd {
  std::string state;
  std::string reason;
  int exit_code = 0;
  int signal = 0;
};
// One line of `scontrol show job -o ID`.
core::Result<SlurmJobEnd> parse_scontrol_job(std::string_view line);

// How a Slurm job that ended becomes its run's end. Only a job that ran to its end (COMPLETED,
// FAILED) or was killed by a signal has an exit status worth reading; Slurm ends the others
// with 0:0 (cancelled by someone else while pending, its time limit, preemption, a node that
// failed), and those are runs lost, naming Slurm's state and reason: the job fails, never
// succeeds. `end`: scontrol's answer, if any; `seen`: squeue's last word, if any (its raw wait
// status). nullopt when neither says anything.
std::optional<core::RunEnd> slurm_run_end(const std::optional<SlurmJobEnd>& end,
                                          const SlurmJobStatus* seen, std::int64_t slurm_id);

struct SlurmNode {
  std::string name;
  std::string state;                         // IDLE, MIXED, ALLOCATED, DOWN+NOT_RESPONDING, ...
  std::map<std::string, std::int64_t> gres;  // gpu -> 2, shard -> 48, vram -> 49152
  std::string reason;                        // why it is down or drained ("" if none)
};
// `scontrol show node -o`: one node per line. Counts with K/M/G suffixes (`vram:48K`) are
// multiplied out (Slurm's suffixes are powers of 1024).
std::vector<SlurmNode> parse_scontrol_nodes(std::string_view text);
bool node_usable(std::string_view state);  // not DOWN, DRAIN(ED/ING), FAIL, NOT_RESPONDING...

// The job named `name` on `cluster` in `jobs` (a job without a cluster name counts as on it);
// nullptr if none. Names are how vramq knows its own jobs.
const SlurmJobStatus* find_named(const std::vector<SlurmJobStatus>& jobs, std::string_view name,
                                 std::string_view cluster);
// How vramq names a cluster's GPU (its uuid in GPU readings): "NODE/INDEX".
std::string slurm_gpu_uuid(std::string_view node, std::int64_t index);

// `key=value` fields of one `-o` line (values may hold spaces only for the last few keys,
// such as Command: those are cut at the next ` Key=`).
std::map<std::string, std::string, std::less<>> parse_key_values(std::string_view line);

}  // namespace vramq::exec
