#pragma once
// Learned VRAM footprints: the measured peaks of a task's finished runs, per bucket of the
// parameters its VRAM rule reads, turned into a reservation once there are enough of them
// (the 95th percentile of what each run says it needs). This is the seed's "predict VRAM from the
// input", measured instead of declared. Pure: the store persists the samples, the orchestrator
// feeds and asks.

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

// A sample is a run's peak together with the reservation it ran under. A peak that sits at its
// reservation (from reservation / (1 + margin) up to the enforcement limit) says only that the
// job used what it was given, which jobs that read VRAMQ_VRAM_MB or frameworks that grab what
// they are given always do: it counts as its reservation, never as evidence for more, so the
// learned figure converges instead of compounding run after run. A peak clearly below its
// reservation counts as peak + margin; one above the limit (kept only under --vram-policy warn)
// counts as itself.
class Footprints {
 public:
  struct Settings {
    std::size_t min_samples = 5;  // fewer: the declared rule stays in force
    std::size_t keep = 50;        // most recent peaks kept per bucket
    double margin = 0.10;         // headroom over a peak that was clearly below its reservation
    double tolerance = 0.10;      // --vram-tolerance: the enforcement limit above a reservation
  };
  struct Sample {
    std::int64_t peak_mb = 0;
    std::int64_t reserved_mb = 0;  // 0: unknown (samples stored before it was kept)
  };
  struct Estimate {
    std::string bucket;
    std::size_t samples = 0;
    std::int64_t p95_mb = 0;                 // of the peaks
    std::optional<std::int64_t> reserve_mb;  // set once samples >= min_samples
  };

  Footprints() = default;
  explicit Footprints(Settings settings) : settings_(settings) {}

  void add(std::string_view task, std::string_view bucket, Sample sample);
  // The learned reservation for a bucket, once it has min_samples peaks.
  std::optional<std::int64_t> reservation(std::string_view task, std::string_view bucket) const;
  // Every bucket of a task, by bucket name.
  std::vector<Estimate> of_task(std::string_view task) const;
  const Settings& settings() const { return settings_; }

  // What one sample says the job needs (see the class comment).
  std::int64_t need_mb(const Sample& s) const;

 private:
  Estimate estimate(const std::string& bucket, const std::deque<Sample>& samples) const;

  Settings settings_;
  // task -> bucket -> samples, oldest first
  std::map<std::string, std::map<std::string, std::deque<Sample>, std::less<>>, std::less<>>
      samples_;
};

}  // namespace vramq::core
