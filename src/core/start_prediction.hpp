#pragma once
// When a queued job will probably start, for dry runs: a small simulation of the GPUs from what
// runs on them now (each running job ends at its expected end) and the jobs ahead of it, started
// strictly in queue order, best fit, each lasting its expected duration. Backfill can only make a
// job start earlier, so this errs late. Pure: the caller supplies the expected times (per-task
// means of earlier runs).

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace vramq::core {

struct PredictionGpu {
  std::int64_t free_mb = 0;  // what admission may give now (total - committed - foreign - buffer)
  bool known = true;
};

struct PredictionRunning {
  int gpu = 0;
  std::int64_t committed_mb = 0;  // comes back to its GPU when it ends
  std::int64_t end_ms = 0;        // expected end (absolute)
};

struct PredictionQueued {
  std::int64_t vram_mb = 0;      // on each of its GPUs
  std::int64_t duration_ms = 0;  // expected run time once started
  int gpus = 1;
};

// `queue`: the jobs ahead in queue order, then the job itself (last). Its expected start time
// (>= now_ms), or nullopt when it cannot be foreseen (a job that fits no GPU even once every job
// has ended, or GPUs without a reading). At most the first `limit` jobs are simulated; beyond,
// the rate seen so far is extrapolated.
std::optional<std::int64_t> predict_start_ms(std::int64_t now_ms,
                                             std::span<const PredictionGpu> gpus,
                                             std::span<const PredictionRunning> running,
                                             std::span<const PredictionQueued> queue,
                                             std::size_t limit = 2000);

}  // namespace vramq::core
