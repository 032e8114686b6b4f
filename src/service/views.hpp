#pragma once
// What the API shows of the live state: a job with its place in the queue, a GPU with its
// ledger, a warm worker. Values copied out of the orchestrator, which owns the state.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/job.hpp"
#include "core/progress.hpp"
#include "core/scheduler.hpp"
#include "core/worker_eviction.hpp"
#include "exec/executor.hpp"
#include "gpu/gpu_source.hpp"

namespace vramq::service {

// A job as the API shows it: the stored record plus what only the live queue knows.
struct JobView {
  core::Job job;
  bool replayed = false;  // submit only: an earlier request with this Idempotency-Key made it
  std::optional<int> queue_position;
  core::PendingReason pending_reason = core::PendingReason::none;
  std::string quota;  // pending_reason quota: which limit or guarantee, in figures
  // Queued, with fair share in force: its owner's decayed use and weight, as the last pass
  // ordered the queue by (core/fair_share.hpp).
  struct FairShare {
    double use_mib_s = 0;
    double weight = 1;
  };
  std::optional<FairShare> fair_share;
  std::string job_dir;  // where its logs and outputs are (absolute)
  // Running: its highest use on one of its GPUs in the last reading (none: not measured).
  std::optional<std::int64_t> measured_vram_mb;
  // Running: how far it is, as it last said (tqdm on stderr, VRAMQ_PROGRESS_FILE, a worker's
  // `progress` message), and when that was read.
  std::optional<core::Progress> progress;
  std::int64_t progress_at_ms = 0;
  // Under --executor slurm, a live job handed to the cluster: its Slurm id, state and reason.
  std::optional<exec::ClusterRunState> cluster;
};

struct GpuStatus {
  gpu::GpuInfo info;
  std::int64_t reserved_mb = 0;   // sum of reservations of vramq's jobs on it
  std::int64_t committed_mb = 0;  // sum of max(reservation, measured)
  std::int64_t available_mb = 0;  // what admission may still give (>= 0)
  std::vector<core::JobId> jobs;
  std::vector<core::WorkerId> workers;  // warm workers resident on it (GET /v1/workers)
  bool known = true;
};

// A warm worker as GET /v1/workers shows it.
// What DELETE /v1/workers/{id} did: started unloading an idle (or starting) worker; refused a
// busy one (its run would be lost: cancel the run instead).
enum class UnloadOutcome { unloading, busy, not_found };

struct WorkerStatus {
  core::WorkerId id = 0;
  std::string task;
  int gpu = 0;
  core::WorkerState state = core::WorkerState::starting;
  std::int64_t pid = 0;          // its supervisor (the worker is its child, in its own group)
  std::int64_t resident_mb = 0;  // what it holds in the ledger now
  std::optional<std::int64_t> measured_mb;  // its use in the last reading, when there was one
  std::int64_t peak_mb = 0;                 // the most it was seen to use
  std::int64_t runs = 0;                    // runs it has finished
  core::JobId job = 0;                      // the run it serves (starting: the one it is for)
  std::int64_t started_at_ms = 0;
  std::int64_t idle_since_ms = 0;                  // idle: since when
  std::optional<std::int64_t> keep_alive_left_ms;  // idle: until it is unloaded (none: resident)
  std::string unload_reason;                       // unloading: why
  bool exited = false;  // events only: it has gone; the rest is how it was last seen
};

// The head of the queue, as `queue` events show it: the jobs that would start first, in order.
struct QueueHead {
  struct Item {
    core::JobId id = 0;
    int position = 0;
    core::PendingReason reason = core::PendingReason::none;
    std::string task;  // "" for a raw command
    std::string name;
    std::string owner;  // "" without tokens
    std::int64_t vram_mb = 0;
    int gpus = 1;
    int priority = 0;
    // When it would probably start (0: cannot be foreseen); an estimate that moves with the
    // clock, so it does not count as a change of the head (no event for it alone).
    std::int64_t predicted_start_ms = 0;
    bool operator==(const Item& o) const {
      return id == o.id && position == o.position && reason == o.reason && task == o.task &&
             name == o.name && owner == o.owner && vram_mb == o.vram_mb && gpus == o.gpus &&
             priority == o.priority;
    }
  };
  std::size_t queued = 0;   // jobs in the queue
  std::size_t waiting = 0;  // queued jobs held back: dependencies, retry delays, start failures
  std::vector<Item> head;
  bool operator==(const QueueHead&) const = default;
};

}  // namespace vramq::service
