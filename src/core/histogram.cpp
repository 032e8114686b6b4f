#include "core/histogram.hpp"

#include <algorithm>

namespace vramq::core {

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {
  std::ranges::sort(bounds_);
}

void Histogram::observe(double v) {
  auto at = std::ranges::lower_bound(bounds_, v) - bounds_.begin();  // first bound >= v
  ++counts_[static_cast<std::size_t>(at)];
  sum_ += v;
  ++count_;
}

std::vector<std::uint64_t> Histogram::cumulative() const {
  std::vector<std::uint64_t> out(counts_.size());
  std::uint64_t running = 0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    running += counts_[i];
    out[i] = running;
  }
  return out;
}

}  // namespace vramq::core
