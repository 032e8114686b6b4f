#include "core/fair_share.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace vramq::core {
namespace {

// Rebase once the reference is this many half-lives behind (2^40: far from double's range).
constexpr double kMaxHalfLivesAhead = 40.0;

}  // namespace

FairShare::FairShare(std::int64_t half_life_ms)
    : half_life_ms_(std::max<std::int64_t>(0, half_life_ms)) {}

double FairShare::decay(std::int64_t from_ms, std::int64_t to_ms) const {
  return std::exp2(-static_cast<double>(to_ms - from_ms) / static_cast<double>(half_life_ms_));
}

double FairShare::running_use(std::int64_t mb, std::int64_t start_ms, std::int64_t now_ms) const {
  if (!enabled() || mb <= 0 || now_ms <= start_ms) return 0;
  double h_s = static_cast<double>(half_life_ms_) / 1000.0;
  // m * h/ln2 * (1 - 2^(-(t-s)/h)); expm1 keeps short runs exact.
  double x = -static_cast<double>(now_ms - start_ms) / static_cast<double>(half_life_ms_) *
             std::numbers::ln2;
  return static_cast<double>(mb) * h_s / std::numbers::ln2 * -std::expm1(x);
}

void FairShare::add_at(std::uint32_t owner, double use, std::int64_t at_ms) {
  if (!enabled() || use <= 0) return;
  if (!has_ref_) {
    ref_ms_ = at_ms;
    has_ref_ = true;
  }
  if (static_cast<double>(at_ms - ref_ms_) / static_cast<double>(half_life_ms_) >
      kMaxHalfLivesAhead) {
    double scale = decay(ref_ms_, at_ms);
    for (double& b : base_)
      b *= scale;
    ref_ms_ = at_ms;
  }
  if (owner >= base_.size()) base_.resize(owner + 1, 0.0);
  // Stored as of the reference time: use at at_ms = base * decay(ref, at).
  base_[owner] += use / decay(ref_ms_, at_ms);
}

void FairShare::add_run(std::uint32_t owner, std::int64_t mb, std::int64_t start_ms,
                        std::int64_t end_ms) {
  add_at(owner, running_use(mb, start_ms, end_ms), end_ms);
}

void FairShare::add_use(std::uint32_t owner, double mib_s, std::int64_t at_ms) {
  add_at(owner, mib_s, at_ms);
}

double FairShare::ended_use(std::uint32_t owner, std::int64_t now_ms) const {
  if (!enabled() || owner >= base_.size()) return 0;
  return base_[owner] * decay(ref_ms_, now_ms);
}

std::vector<double> FairShare::uses(std::int64_t now_ms, std::span<const Running> running) const {
  if (!enabled()) return {};
  std::vector<double> out(base_.size(), 0.0);
  for (std::size_t o = 0; o < base_.size(); ++o)
    out[o] = ended_use(static_cast<std::uint32_t>(o), now_ms);
  for (const Running& r : running) {
    if (r.owner >= out.size()) out.resize(r.owner + 1, 0.0);
    out[r.owner] += running_use(r.mb, r.start_ms, now_ms);
  }
  return out;
}

std::vector<double> FairShare::shares(std::vector<double> uses, std::span<const double> weights) {
  for (std::size_t o = 0; o < uses.size(); ++o) {
    double w = o < weights.size() && weights[o] > 0 ? weights[o] : 1.0;
    uses[o] /= w;
  }
  return uses;
}

}  // namespace vramq::core
