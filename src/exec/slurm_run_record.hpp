#pragma once
// The record the Slurm executor keeps of each run (DATA_DIR/run/slurm/JOB-ATTEMPT.slurm),
// written whole and synced before sbatch and again once Slurm gave the job an id: what a
// restarted server needs to find the run again (the cluster it went to, its job name, its id)
// and whether sbatch got no clear answer (then it may have queued the job: found by name, never
// submitted twice). `key=value` lines; pure text here, the file I/O is the executor's.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vramq::exec {

struct SlurmRunRecord {
  std::string cluster;
  std::string name;           // the job name, unique to the data directory and attempt
  std::int64_t slurm_id = 0;  // 0: not known (yet)
  // sbatch got no clear answer (timeout, controller unreachable): it may have queued the job.
  bool unclear = false;
  bool operator==(const SlurmRunRecord&) const = default;
};

std::string format_run_record(const SlurmRunRecord& r);

// nullopt when the text is no record vramq wrote: no name, a value that is not what its key
// takes. Unknown keys are skipped (a newer vramq may say more).
std::optional<SlurmRunRecord> parse_run_record(std::string_view text);

}  // namespace vramq::exec
