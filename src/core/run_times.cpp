#include "core/run_times.hpp"

#include <algorithm>
#include <cmath>

namespace vramq::core {

void RunTimes::add(const JobSpec& spec, double ran_s, bool succeeded) {
  mean_s_ = 0.9 * mean_s_ + 0.1 * std::max(ran_s, 0.001);
  if (!succeeded) return;  // whole runs only: how long this task takes, for predictions
  if (by_key_.size() >= kMaxKeys) by_key_.clear();
  for (const std::string& key : {spec.task, spec.task + "\n" + spec.params_json}) {
    auto [avg, fresh] = by_key_.try_emplace(key, ran_s);
    if (!fresh) avg->second = 0.7 * avg->second + 0.3 * std::max(ran_s, 0.001);
  }
}

std::int64_t RunTimes::expected_ms(const JobSpec& spec) const {
  auto it = by_key_.find(spec.task + "\n" + spec.params_json);
  if (it == by_key_.end()) it = by_key_.find(spec.task);
  double s = it == by_key_.end() ? mean_s_ : it->second;
  auto ms = static_cast<std::int64_t>(s * 1000.0);
  return spec.timeout_s > 0 ? std::min(ms, spec.timeout_s * 1000) : ms;
}

std::int64_t RunTimes::retry_after_s(std::size_t running) const {
  double slots = std::max<double>(1.0, static_cast<double>(running));
  return std::clamp<std::int64_t>(static_cast<std::int64_t>(std::ceil(mean_s_ / slots)), 1, 3600);
}

}  // namespace vramq::core
