#pragma once
// `vramq batch-step -- ARGV...`: how a job runs as its Slurm batch step (--executor slurm) on a
// node. It starts ARGV in a process group of its own, passes on the signals Slurm sends (scancel,
// --signal), and, while the job runs, reads NVML on the node for the job's processes (its group
// and their descendants): its highest use on one GPU now and at most so far go to
// $VRAMQ_JOB_DIR/vram-now-mb and vram-peak-mb, where the server reads them (measured use,
// enforcement, peak_vram_mb, learned footprints). Without NVML on the node (or without
// VRAMQ_JOB_DIR) the job simply runs: it counts as its reservation. It ends as the job ended:
// the same exit code, or the same signal. Never writes to the job's stdout or stderr.

#include <span>
#include <string>

namespace vramq::app {

int batch_step(std::span<const std::string> argv);

}  // namespace vramq::app
