#include "core/footprints.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "core/vram_guard.hpp"

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

void Footprints::add(std::string_view task, std::string_view bucket, Sample sample) {
  auto t = samples_.find(task);
  if (t == samples_.end()) t = samples_.emplace(std::string(task), decltype(t->second){}).first;
  auto b = t->second.find(bucket);
  if (b == t->second.end()) b = t->second.emplace(std::string(bucket), std::deque<Sample>{}).first;
  auto& samples = b->second;
  samples.push_back(sample);
  while (samples.size() > settings_.keep)
    samples.pop_front();
}

std::int64_t Footprints::need_mb(const Sample& s) const {
  auto with_margin = static_cast<std::int64_t>(
      std::ceil(static_cast<double>(s.peak_mb) * (1.0 + settings_.margin)));
  if (s.reserved_mb <= 0 || with_margin <= s.reserved_mb) return with_margin;
  if (s.peak_mb <= vram_limit_mb(s.reserved_mb, settings_.tolerance)) return s.reserved_mb;
  return s.peak_mb;
}

namespace {

// Nearest rank: the smallest value with at least 95 % of the values at or below it.
std::int64_t p95(std::vector<std::int64_t> values) {
  if (values.empty()) return 0;
  std::ranges::sort(values);
  auto rank = static_cast<std::size_t>(std::ceil(0.95 * static_cast<double>(values.size())));
  return values[std::max<std::size_t>(rank, 1) - 1];
}

}  // namespace

Footprints::Estimate Footprints::estimate(const std::string& bucket,
                                          const std::deque<Sample>& samples) const {
  std::vector<std::int64_t> peaks;
  std::vector<std::int64_t> needs;
  for (const Sample& s : samples) {
    peaks.push_back(s.peak_mb);
    needs.push_back(need_mb(s));
  }
  Estimate e{.bucket = bucket,
             .samples = samples.size(),
             .p95_mb = p95(peaks),
             .reserve_mb = std::nullopt};
  if (samples.size() >= settings_.min_samples) e.reserve_mb = p95(needs);
  return e;
}

std::optional<std::int64_t> Footprints::reservation(std::string_view task,
                                                    std::string_view bucket) const {
  auto t = samples_.find(task);
  if (t == samples_.end()) return std::nullopt;
  auto b = t->second.find(bucket);
  if (b == t->second.end()) return std::nullopt;
  return estimate(b->first, b->second).reserve_mb;
}

std::vector<Footprints::Estimate> Footprints::of_task(std::string_view task) const {
  std::vector<Estimate> out;
  if (auto t = samples_.find(task); t != samples_.end()) {
    for (const auto& [bucket, samples] : t->second)
      out.push_back(estimate(bucket, samples));
  }
  return out;
}

}  // namespace vramq::core
