#include "core/footprints.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace vramq::core {

std::string footprint_bucket(const VramRule& rule,
                             const std::map<std::string, ParamValue, std::less<>>& params) {
  std::map<std::string, std::string> parts;  // sorted, each parameter once
  for (const VramRule::Factor& f : rule.factors()) {
    if (f.param.empty()) continue;
    auto it = params.find(f.param);
    if (it == params.end()) continue;
    parts[f.param] = std::visit(
        [](const auto& v) -> std::string {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::string>) {
            return v;
          } else {
            return fmt::format("{}", v);
          }
        },
        it->second);
  }
  std::string out;
  for (const auto& [name, value] : parts) {
    if (!out.empty()) out += ",";
    out.append(name).append("=").append(value);
  }
  return out;
}

void Footprints::add(std::string_view task, std::string_view bucket, std::int64_t peak_mb) {
  auto t = peaks_.find(task);
  if (t == peaks_.end()) t = peaks_.emplace(std::string(task), decltype(t->second){}).first;
  auto b = t->second.find(bucket);
  if (b == t->second.end())
    b = t->second.emplace(std::string(bucket), std::deque<std::int64_t>{}).first;
  auto& peaks = b->second;
  peaks.push_back(peak_mb);
  while (peaks.size() > settings_.keep)
    peaks.pop_front();
}

Footprints::Estimate Footprints::estimate(const std::string& bucket,
                                          const std::deque<std::int64_t>& peaks) const {
  std::vector<std::int64_t> sorted(peaks.begin(), peaks.end());
  std::ranges::sort(sorted);
  // Nearest rank: the smallest sample with at least 95 % of the samples at or below it.
  auto rank = static_cast<std::size_t>(std::ceil(0.95 * static_cast<double>(sorted.size())));
  Estimate e{.bucket = bucket,
             .samples = sorted.size(),
             .p95_mb = sorted.empty() ? 0 : sorted[std::max<std::size_t>(rank, 1) - 1],
             .reserve_mb = std::nullopt};
  if (sorted.size() >= settings_.min_samples) {
    e.reserve_mb = static_cast<std::int64_t>(
        std::ceil(static_cast<double>(e.p95_mb) * (1.0 + settings_.margin)));
  }
  return e;
}

std::optional<std::int64_t> Footprints::reservation(std::string_view task,
                                                    std::string_view bucket) const {
  auto t = peaks_.find(task);
  if (t == peaks_.end()) return std::nullopt;
  auto b = t->second.find(bucket);
  if (b == t->second.end()) return std::nullopt;
  return estimate(b->first, b->second).reserve_mb;
}

std::vector<Footprints::Estimate> Footprints::of_task(std::string_view task) const {
  std::vector<Estimate> out;
  if (auto t = peaks_.find(task); t != peaks_.end()) {
    for (const auto& [bucket, peaks] : t->second)
      out.push_back(estimate(bucket, peaks));
  }
  return out;
}

}  // namespace vramq::core
