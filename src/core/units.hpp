#pragma once
// Human sizes and the simulated-GPU spec. MiB are int64_t everywhere in vramq.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace vramq::core {

// "24GiB", "512MiB", "1.5GiB", "2048" (plain number = MiB), "24GB" (read as GiB: GPU vendors
// mean binary units). Case-insensitive units; the result must be positive.
Result<std::int64_t> parse_size_mb(std::string_view text);

// "24GiB" -> {24576}; "2x24GiB" -> {24576, 24576}; "80GiB,24GiB" -> {81920, 24576}.
Result<std::vector<std::int64_t>> parse_gpu_spec(std::string_view spec);

// "7d", "12h", "30m", "45s", "3600" (plain number = seconds), "0": a duration in seconds, at most
// ten years. Case-insensitive units.
Result<std::int64_t> parse_duration_s(std::string_view text);

// 24576 -> "24 GiB", 10000 -> "10000 MiB" (exact: whole GiB only when it is one): for people.
std::string format_mb(std::int64_t mb);

}  // namespace vramq::core
