#pragma once
// What happens when a job's GPU memory goes wrong, as pure rules: a job measured above its
// reservation (plus a tolerance) for longer than a grace period is stopped or warned about; a
// job that died of a CUDA out-of-memory error is recognised from its stderr, told whose fault
// it likely was, and retried with a larger reservation. No I/O.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace vramq::core {

enum class VramPolicy { kill, warn };
std::string_view to_string(VramPolicy p);
std::optional<VramPolicy> parse_vram_policy(std::string_view s);

struct VramLimits {
  double tolerance = 0.10;       // allowed use above the reservation, as a fraction of it
  std::int64_t grace_ms = 5000;  // how long use may stay above that before the policy acts
  VramPolicy policy = VramPolicy::kill;
};

// Parses "10%" or "0.1" (a fraction from 0 to 1; a bare number above 1 is refused as ambiguous).
Result<double> parse_tolerance(std::string_view text);

// The most a job may use before it counts as over: reservation * (1 + tolerance), rounded down.
std::int64_t vram_limit_mb(std::int64_t reservation_mb, double tolerance);

// One running job's history against its limit, carried from reading to reading.
struct OverUse {
  std::optional<std::int64_t> since_ms;  // first reading above the limit of the current stretch
  bool acted = false;                    // the policy acted already (once per job run)
  std::int64_t peak_mb = 0;  // the highest reading above the limit in this run (0: none yet)
};

enum class VramVerdict {
  within,  // at or under the limit (or no reading)
  over,    // above the limit, still within the grace period
  act,     // above the limit for longer than the grace: apply the policy now (reported once)
};

// Judges one reading; updates `state`.
VramVerdict judge_vram(std::int64_t reservation_mb, std::optional<std::int64_t> measured_mb,
                       std::int64_t now_ms, const VramLimits& limits, OverUse& state);

// True when a job's stderr shows that it died of a CUDA out-of-memory error (PyTorch's, CUDA
// runtime's and cuBLAS's messages).
bool looks_like_gpu_oom(std::string_view stderr_tail);

// The reservation for a retry after an out-of-memory death: 1.5x, at least 1 MiB more, at most
// what the largest GPU can give (`capacity_mb`, total minus buffer).
std::int64_t grown_reservation_mb(std::int64_t reservation_mb, std::int64_t capacity_mb);

// The job's `error` after an out-of-memory death: whether it pushed the GPU over itself (its peak
// went above its reservation) or a neighbour did.
std::string gpu_oom_error(std::int64_t reservation_mb, std::optional<std::int64_t> peak_mb);

}  // namespace vramq::core
