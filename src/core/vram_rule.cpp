#include "core/vram_rule.hpp"

#include "core/text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>

namespace vramq::core {
namespace {

bool is_identifier(std::string_view s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  return std::ranges::all_of(s, [](unsigned char c) { return std::isalnum(c) || c == '_'; });
}

Result<VramRule::Factor> parse_factor(std::string_view text,
                                      const std::vector<std::string>& numeric_params) {
  VramRule::Factor f;
  std::string_view base = text;
  if (std::size_t caret = text.find('^'); caret != std::string_view::npos) {
    std::string_view exp = trim(text.substr(caret + 1));
    auto [end, ec] = std::from_chars(exp.data(), exp.data() + exp.size(), f.exponent);
    if (ec != std::errc{} || end != exp.data() + exp.size() || f.exponent < 1 || f.exponent > 4) {
      return Error{fmt::format("exponent in '{}' must be an integer 1..4", text)};
    }
    base = trim(text.substr(0, caret));
  }
  if (is_identifier(base)) {
    if (std::ranges::find(numeric_params, base) == numeric_params.end()) {
      return Error{fmt::format("'{}' is not a numeric parameter of the task", base)};
    }
    f.param = std::string(base);
    return f;
  }
  auto [end, ec] = std::from_chars(base.data(), base.data() + base.size(), f.constant);
  if (ec != std::errc{} || end != base.data() + base.size() || !std::isfinite(f.constant)) {
    return Error{fmt::format("'{}' is neither a parameter name nor a number", base)};
  }
  return f;
}

}  // namespace

Result<VramRule> VramRule::make(double base_mb, double per_unit_mb, std::string_view unit,
                                const std::vector<std::string>& numeric_params) {
  if (!std::isfinite(base_mb) || base_mb < 0) return Error{"vram.base_mb must be >= 0"};
  if (!std::isfinite(per_unit_mb) || per_unit_mb < 0) return Error{"vram.per_unit_mb must be >= 0"};
  VramRule rule;
  rule.base_mb_ = base_mb;
  rule.per_unit_mb_ = per_unit_mb;
  rule.unit_ = std::string(trim(unit));
  std::string_view rest = rule.unit_;
  while (!rest.empty()) {
    std::size_t star = rest.find('*');
    auto factor = parse_factor(trim(rest.substr(0, star)), numeric_params);
    if (!factor) return Error{fmt::format("vram.unit '{}': {}", unit, factor.error().message)};
    rule.factors_.push_back(*factor);
    if (star == std::string_view::npos) break;
    rest = rest.substr(star + 1);
    if (trim(rest).empty()) return Error{fmt::format("vram.unit '{}' ends with '*'", unit)};
  }
  if (rule.factors_.empty() && per_unit_mb != 0) {
    return Error{"vram.per_unit_mb is set but vram.unit is empty"};
  }
  return rule;
}

Result<std::int64_t> VramRule::evaluate(
    const std::map<std::string, double, std::less<>>& values) const {
  double unit = factors_.empty() ? 0.0 : 1.0;
  for (const Factor& f : factors_) {
    double v = f.constant;
    if (!f.param.empty()) {
      auto it = values.find(f.param);
      if (it == values.end()) return Error{fmt::format("parameter '{}' has no value", f.param)};
      v = it->second;
    }
    unit *= std::pow(v, f.exponent);
  }
  double mb = base_mb_ + per_unit_mb_ * unit;
  constexpr double kMaxMb = 1099511627776.0;  // 2^40 MiB: far past any GPU, still exact in int64
  if (!std::isfinite(mb) || mb < 0 || mb > kMaxMb) {
    return Error{fmt::format("the VRAM rule gives {} MiB, outside 0..2^40", mb)};
  }
  return static_cast<std::int64_t>(std::ceil(mb - 1e-9));
}

}  // namespace vramq::core
