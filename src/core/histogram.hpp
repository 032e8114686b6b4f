#pragma once
// A histogram with fixed bucket bounds, as Prometheus exposes one: a count per bucket, their sum
// and how many were observed. Pure and small (a few dozen numbers); the owner decides its
// thread (the loop's for the orchestrator's, a mutex for the store's).

#include <cstdint>
#include <span>
#include <vector>

namespace vramq::core {

class Histogram {
 public:
  // `bounds`: the buckets' upper bounds (inclusive), ascending; +Inf is implied after them.
  explicit Histogram(std::vector<double> bounds);

  void observe(double v);

  std::span<const double> bounds() const { return bounds_; }
  // Observations <= each bound, cumulative, then the total (the +Inf bucket): bounds().size() + 1.
  std::vector<std::uint64_t> cumulative() const;
  double sum() const { return sum_; }
  std::uint64_t count() const { return count_; }

 private:
  std::vector<double> bounds_;
  std::vector<std::uint64_t> counts_;  // per bucket, not cumulative; the last is above all bounds
  double sum_ = 0;
  std::uint64_t count_ = 0;
};

}  // namespace vramq::core
