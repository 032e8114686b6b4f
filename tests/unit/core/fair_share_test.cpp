#include "core/fair_share.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <vector>

namespace vramq::core {
namespace {

constexpr std::int64_t kHour = 3'600'000;

TEST(FairShareTest, OffCountsNothing) {
  FairShare f(0);
  f.add_run(1, 1000, 0, kHour);
  EXPECT_FALSE(f.enabled());
  EXPECT_EQ(f.ended_use(1, kHour), 0.0);
  EXPECT_TRUE(f.uses(kHour, {}).empty());
}

TEST(FairShareTest, ShortRunsCountTheirMibSeconds) {
  // Far shorter than the half-life: almost exactly MiB x seconds.
  FairShare f(7 * 24 * kHour);
  f.add_run(1, 1000, 0, 10'000);
  EXPECT_NEAR(f.ended_use(1, 10'000), 10'000.0, 0.1);
  EXPECT_EQ(f.ended_use(2, 10'000), 0.0);
  EXPECT_NEAR(f.running_use(2048, 0, 5'000), 10'240.0, 0.1);
}

TEST(FairShareTest, UseHalvesEveryHalfLife) {
  FairShare f(kHour);
  f.add_use(3, 800.0, 0);
  EXPECT_NEAR(f.ended_use(3, 0), 800.0, 1e-9);
  EXPECT_NEAR(f.ended_use(3, kHour), 400.0, 1e-9);
  EXPECT_NEAR(f.ended_use(3, 3 * kHour), 100.0, 1e-9);
}

TEST(FairShareTest, ARunIsTheIntegralOfItsDecayedSeconds) {
  // m * h/ln2 * (2^(-(t-e)/h) - 2^(-(t-s)/h)), computed here independently.
  const double h_s = 3600.0;
  FairShare f(kHour);
  f.add_run(1, 500, kHour, 3 * kHour);
  double t = 4.0 * 3600.0;
  double expected = 500.0 * h_s / std::numbers::ln2 *
                    (std::exp2(-(t - 3 * h_s) / h_s) - std::exp2(-(t - h_s) / h_s));
  EXPECT_NEAR(f.ended_use(1, 4 * kHour), expected, expected * 1e-9);
  // A run still going counts the same as one that ended now.
  FairShare g(kHour);
  std::vector<FairShare::Running> running{{.owner = 1, .mb = 500, .start_ms = kHour}};
  g.add_run(2, 500, kHour, 3 * kHour);
  auto uses = g.uses(3 * kHour, running);
  ASSERT_EQ(uses.size(), 3u);
  EXPECT_NEAR(uses[1], uses[2], 1e-6);
}

TEST(FairShareTest, FarFutureContributionsStayFinite) {
  // Hundreds of half-lives later: the reference moves, nothing overflows.
  FairShare f(1000);
  f.add_run(1, 100, 0, 1000);
  f.add_run(2, 100, 500'000, 501'000);
  double u1 = f.ended_use(1, 501'000);
  double u2 = f.ended_use(2, 501'000);
  EXPECT_TRUE(std::isfinite(u2));
  EXPECT_NEAR(u2, 100.0 * 1.0 / std::numbers::ln2 * 0.5, 1e-6);
  EXPECT_LT(u1, 1e-100);
}

TEST(FairShareTest, SharesAreUseOverWeight) {
  std::vector<double> w{1.0, 2.0, 0.0};
  auto s = FairShare::shares({10.0, 10.0, 10.0, 10.0}, w);
  ASSERT_EQ(s.size(), 4u);
  EXPECT_EQ(s[0], 10.0);
  EXPECT_EQ(s[1], 5.0);
  EXPECT_EQ(s[2], 10.0);  // a weight of 0 is taken as 1 (the owners file refuses it)
  EXPECT_EQ(s[3], 10.0);  // no weight given: 1
}

}  // namespace
}  // namespace vramq::core
