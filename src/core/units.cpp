#include "core/units.hpp"

#include "core/text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>

namespace vramq::core {
Result<std::int64_t> parse_size_mb(std::string_view text) {
  std::string_view s = trim(text);
  double number = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), number);
  if (ec != std::errc{} || end == s.data()) {
    return Error{fmt::format("'{}' is not a size (expected e.g. 24GiB or 512MiB)", text)};
  }
  std::string unit = to_lower(trim(std::string_view(end, s.data() + s.size() - end)));
  double factor = 0;
  if (unit.empty() || unit == "mib" || unit == "mb" || unit == "m") {
    factor = 1;
  } else if (unit == "gib" || unit == "gb" || unit == "g") {
    factor = 1024;
  } else if (unit == "tib" || unit == "tb" || unit == "t") {
    factor = 1024.0 * 1024.0;
  } else {
    return Error{fmt::format("'{}' has an unknown unit '{}' (use MiB, GiB or TiB)", text, unit)};
  }
  double mb = number * factor;
  if (!std::isfinite(mb) || mb < 1 || mb > 1e12) {
    return Error{fmt::format("'{}' is out of range (1 MiB to 1e12 MiB)", text)};
  }
  return static_cast<std::int64_t>(std::llround(mb));
}

Result<std::int64_t> parse_duration_s(std::string_view text) {
  std::string_view s = trim(text);
  std::int64_t number = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), number);
  if (ec != std::errc{} || end == s.data() || number < 0) {
    return Error{fmt::format("'{}' is not a duration (expected e.g. 7d, 12h, 30m or 3600s)", text)};
  }
  std::string unit = to_lower(trim(std::string_view(end, s.data() + s.size() - end)));
  std::int64_t factor = 0;
  if (unit.empty() || unit == "s") {
    factor = 1;
  } else if (unit == "m") {
    factor = 60;
  } else if (unit == "h") {
    factor = 3600;
  } else if (unit == "d") {
    factor = 86400;
  } else {
    return Error{fmt::format("'{}' has an unknown unit '{}' (use s, m, h or d)", text, unit)};
  }
  constexpr std::int64_t kTenYears = std::int64_t{3650} * 86400;
  if (number > kTenYears / factor) {
    return Error{fmt::format("'{}' is longer than ten years", text)};
  }
  return number * factor;
}

Result<std::vector<std::int64_t>> parse_gpu_spec(std::string_view spec) {
  std::vector<std::int64_t> gpus;
  std::string_view rest = spec;
  while (true) {
    std::size_t comma = rest.find(',');
    std::string_view item = trim(rest.substr(0, comma));
    std::int64_t count = 1;
    if (std::size_t x = item.find_first_of("xX");
        x != std::string_view::npos && x > 0 && std::isdigit(static_cast<unsigned char>(item[0]))) {
      std::string_view count_text = item.substr(0, x);
      auto [end, ec] =
          std::from_chars(count_text.data(), count_text.data() + count_text.size(), count);
      if (ec != std::errc{} || end != count_text.data() + count_text.size() || count < 1 ||
          count > 64) {
        return Error{fmt::format("GPU spec item '{}': count must be 1..64", item)};
      }
      item = item.substr(x + 1);
    }
    auto size = parse_size_mb(item);
    if (!size) return Error{fmt::format("GPU spec '{}': {}", spec, size.error().message)};
    for (std::int64_t i = 0; i < count; ++i)
      gpus.push_back(*size);
    if (comma == std::string_view::npos) break;
    rest = rest.substr(comma + 1);
  }
  if (gpus.size() > 64) return Error{fmt::format("GPU spec '{}': at most 64 GPUs", spec)};
  return gpus;
}

std::string format_mb(std::int64_t mb) {
  // Exact, never rounded: 10000 MiB must not read as 9.8 GiB next to a request for 10000.
  if (mb != 0 && mb % 1024 == 0) return fmt::format("{} GiB", mb / 1024);
  return fmt::format("{} MiB", mb);
}

}  // namespace vramq::core
