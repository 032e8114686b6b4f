#pragma once
// Which idle warm workers to unload so that a queued job fits (issue 12). Resident workers hold
// their VRAM in the ledger (the GPU views' committed memory), so unloading one frees what it
// holds. The choice, per GPU: its idle workers least recently used first, as many as it takes
// and no more (a prefix of that order); a GPU where even every idle worker gone would not make
// room evicts nothing. Workers that are starting, busy or already unloading are never chosen
// (their memory is not free until their processes are gone). For a job of N GPUs, the N GPUs
// that cost least (those that fit already cost nothing). Pure.

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "core/scheduler.hpp"

namespace vramq::core {

enum class WorkerState { starting, idle, busy, unloading };
std::string_view to_string(WorkerState s);  // as the API and logs show it

struct WorkerSlot {
  WorkerId id = 0;
  int gpu = 0;
  WorkerState state = WorkerState::idle;
  std::int64_t held_mb = 0;       // what it holds in the ledger now
  std::int64_t last_used_ms = 0;  // when its last run ended (or it became ready)
};

struct GpuEviction {
  int gpu = 0;
  std::vector<WorkerId> workers;  // least recently used first; empty: the GPU fits already
  std::int64_t freed_mb = 0;
};

// The GPUs (`count` of them) a job needing `need_mb` on each would run on once the returned
// idle workers are unloaded; nullopt when no choice of idle workers makes it fit (then nothing
// should be evicted). GPUs without a reading are never used. `buffer_mb` as in available_mb().
std::optional<std::vector<GpuEviction>> choose_eviction(std::int64_t need_mb, int count,
                                                        std::span<const GpuView> gpus,
                                                        std::int64_t buffer_mb,
                                                        std::span<const WorkerSlot> workers);

}  // namespace vramq::core
