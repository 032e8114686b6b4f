#pragma once
// Learned VRAM footprints: the measured peaks of a task's finished runs, per bucket of the
// parameters its VRAM rule reads, turned into a reservation once there are enough of them
// (the 95th percentile plus a margin). This is the seed's "predict VRAM from the input",
// measured instead of declared. Pure: the store persists the samples, the orchestrator feeds
// and asks.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/task_catalog.hpp"

namespace vramq::core {

// Runs that should need about the same VRAM: the values of the parameters the task's rule reads,
// e.g. "mc_resolution=256" ("" when the rule reads none). Values print as JSON would.
std::string footprint_bucket(const VramRule& rule,
                             const std::map<std::string, ParamValue, std::less<>>& params);

class Footprints {
 public:
  struct Settings {
    std::size_t min_samples = 5;  // fewer: the declared rule stays in force
    std::size_t keep = 50;        // most recent peaks kept per bucket
    double margin = 0.10;         // reservation = p95 * (1 + margin), rounded up
  };
  struct Estimate {
    std::string bucket;
    std::size_t samples = 0;
    std::int64_t p95_mb = 0;
    std::optional<std::int64_t> reserve_mb;  // set once samples >= min_samples
  };

  Footprints() = default;
  explicit Footprints(Settings settings) : settings_(settings) {}

  void add(std::string_view task, std::string_view bucket, std::int64_t peak_mb);
  // The learned reservation for a bucket, once it has min_samples peaks.
  std::optional<std::int64_t> reservation(std::string_view task, std::string_view bucket) const;
  // Every bucket of a task, by bucket name.
  std::vector<Estimate> of_task(std::string_view task) const;
  const Settings& settings() const { return settings_; }

 private:
  Estimate estimate(const std::string& bucket, const std::deque<std::int64_t>& peaks) const;

  Settings settings_;
  // task -> bucket -> peaks, oldest first
  std::map<std::string, std::map<std::string, std::deque<std::int64_t>, std::less<>>, std::less<>>
      peaks_;
};

}  // namespace vramq::core
