#pragma once
// A task's VRAM reservation computed from its parameters: base_mb + per_unit_mb * unit, where
// unit is a product of factors such as "mc_resolution^3" or "batch*width*height". This is the
// seed's "predict VRAM from the input" as configuration.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace vramq::core {

class VramRule {
 public:
  struct Factor {
    std::string param;  // empty: a numeric constant
    double constant = 1;
    int exponent = 1;
  };

  VramRule() = default;

  // `unit` may be empty (the reservation is then base_mb alone). Every named factor must be one
  // of `numeric_params`; exponents are integers 1..4.
  static Result<VramRule> make(double base_mb, double per_unit_mb, std::string_view unit,
                               const std::vector<std::string>& numeric_params);

  // MiB, rounded up. Fails if a factor's parameter is missing from `values` or the result is not
  // a finite number in [0, 2^40].
  Result<std::int64_t> evaluate(const std::map<std::string, double, std::less<>>& values) const;

  double base_mb() const { return base_mb_; }
  double per_unit_mb() const { return per_unit_mb_; }
  const std::string& unit() const { return unit_; }
  const std::vector<Factor>& factors() const { return factors_; }

 private:
  double base_mb_ = 0;
  double per_unit_mb_ = 0;
  std::string unit_;
  std::vector<Factor> factors_;
};

}  // namespace vramq::core
