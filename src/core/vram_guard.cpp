#include "core/vram_guard.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>

#include "core/text.hpp"

namespace vramq::core {

std::string_view to_string(VramPolicy p) {
  return p == VramPolicy::kill ? "kill" : "warn";
}

std::optional<VramPolicy> parse_vram_policy(std::string_view s) {
  if (s == "kill") return VramPolicy::kill;
  if (s == "warn") return VramPolicy::warn;
  return std::nullopt;
}

Result<double> parse_tolerance(std::string_view text) {
  std::string_view t = trim(text);
  bool percent = !t.empty() && t.back() == '%';
  if (percent) t.remove_suffix(1);
  double v = 0;
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (t.empty() || ec != std::errc{} || end != t.data() + t.size() || !std::isfinite(v) || v < 0) {
    return Error{fmt::format(
        "vram tolerance '{}' must be a fraction >= 0 (0.1) or a percentage (10%)", text)};
  }
  if (!percent && v > 1) {
    // "10" is far more likely a percentage typed without its sign than 1000 %.
    return Error{
        fmt::format("vram tolerance '{}' would be {:g} %: give a fraction up to 1 (0.1) or a "
                    "percentage ({:g}%)",
                    text, v * 100, v)};
  }
  return percent ? v / 100.0 : v;
}

std::int64_t vram_limit_mb(std::int64_t reservation_mb, double tolerance) {
  return static_cast<std::int64_t>(
      std::floor(static_cast<double>(reservation_mb) * (1.0 + tolerance)));
}

VramVerdict judge_vram(std::int64_t reservation_mb, std::optional<std::int64_t> measured_mb,
                       std::int64_t now_ms, const VramLimits& limits, OverUse& state) {
  if (!measured_mb || *measured_mb <= vram_limit_mb(reservation_mb, limits.tolerance)) {
    state.since_ms.reset();  // back under: a later stretch gets a fresh grace period
    return VramVerdict::within;
  }
  if (!state.since_ms) state.since_ms = now_ms;
  state.peak_mb = std::max(state.peak_mb, *measured_mb);
  if (state.acted || now_ms - *state.since_ms < limits.grace_ms) return VramVerdict::over;
  state.acted = true;
  return VramVerdict::act;
}

bool looks_like_gpu_oom(std::string_view stderr_tail) {
  static constexpr std::array<std::string_view, 6> kSigns = {
      "CUDA out of memory",          // PyTorch: torch.OutOfMemoryError / RuntimeError
      "CUDA error: out of memory",   // PyTorch surfacing cudaErrorMemoryAllocation
      "cudaErrorMemoryAllocation",   // CUDA runtime
      "CUBLAS_STATUS_ALLOC_FAILED",  // cuBLAS
      "CUDNN_STATUS_ALLOC_FAILED",   // cuDNN
      "out of memory on device",     // TensorFlow / XLA allocators
  };
  return std::ranges::any_of(
      kSigns, [&](std::string_view s) { return stderr_tail.find(s) != std::string_view::npos; });
}

std::int64_t grown_reservation_mb(std::int64_t reservation_mb, std::int64_t capacity_mb) {
  std::int64_t grown = std::max(reservation_mb + 1, (reservation_mb * 3 + 1) / 2);
  return std::max<std::int64_t>(reservation_mb, std::min(grown, capacity_mb));
}

std::string gpu_oom_error(std::int64_t reservation_mb, std::optional<std::int64_t> peak_mb) {
  if (peak_mb && *peak_mb > reservation_mb) {
    return fmt::format(
        "CUDA out of memory: the job itself used {} MiB, more than its reservation of {} MiB",
        *peak_mb, reservation_mb);
  }
  if (peak_mb) {
    return fmt::format(
        "CUDA out of memory while the job stayed within its reservation ({} of {} MiB): a "
        "neighbour or a foreign process took more than its share",
        *peak_mb, reservation_mb);
  }
  return fmt::format(
      "CUDA out of memory (reservation {} MiB; no reading of the job's own use, so it cannot be "
      "told whether it or a neighbour pushed the GPU over)",
      reservation_mb);
}

}  // namespace vramq::core
