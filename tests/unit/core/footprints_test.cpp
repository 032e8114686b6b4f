// Learned footprints: buckets from the rule's parameters, p95 + margin after enough samples,
// a bounded window of recent peaks.
#include "core/footprints.hpp"

#include <gtest/gtest.h>

namespace vramq::core {
namespace {

TEST(Footprints, BucketNamesTheParametersTheRuleReads) {
  auto rule = VramRule::make(5120, 0.000061, "mc_resolution^3", {"mc_resolution", "seed"});
  ASSERT_TRUE(rule);
  std::map<std::string, ParamValue, std::less<>> params{
      {"mc_resolution", std::int64_t{256}}, {"seed", std::int64_t{7}}, {"image", "a.png"}};
  EXPECT_EQ(footprint_bucket(*rule, params), "mc_resolution=256");
  auto two = VramRule::make(0, 1, "batch*scale", {"batch", "scale"});
  ASSERT_TRUE(two);
  EXPECT_EQ(footprint_bucket(*two, {{"scale", 1.5}, {"batch", std::int64_t{4}}}),
            "batch=4,scale=1.5");
  EXPECT_EQ(footprint_bucket(VramRule{}, params), "");  // a constant rule: one bucket
}

TEST(Footprints, DeclaredRuleStaysUntilFiveSamples) {
  Footprints f;
  for (int i = 0; i < 4; ++i)
    f.add("triposr", "mc_resolution=256", {.peak_mb = 5000});
  EXPECT_FALSE(f.reservation("triposr", "mc_resolution=256"));
  f.add("triposr", "mc_resolution=256", {.peak_mb = 5000});
  EXPECT_EQ(f.reservation("triposr", "mc_resolution=256"), 5500);  // 5000 * 1.1
  EXPECT_FALSE(f.reservation("triposr", "mc_resolution=512"));
  EXPECT_FALSE(f.reservation("pixel2mesh", "mc_resolution=256"));
}

TEST(Footprints, P95IgnoresARareOutlierOnlyWhenThereAreEnoughSamples) {
  Footprints f;
  for (int i = 1; i <= 19; ++i)
    f.add("t", "", {.peak_mb = 1000 + i});  // 1001..1019
  f.add("t", "", {.peak_mb = 9000});
  auto e = f.of_task("t");
  ASSERT_EQ(e.size(), 1U);
  EXPECT_EQ(e[0].samples, 20U);
  EXPECT_EQ(e[0].p95_mb, 1019);  // rank ceil(0.95 * 20) = 19
  EXPECT_EQ(e[0].reserve_mb, 1121);
  Footprints small;
  for (std::int64_t v : {1000, 1000, 1000, 1000, 3000})
    small.add("t", "", {.peak_mb = v});
  EXPECT_EQ(small.of_task("t")[0].p95_mb, 3000);  // with 5 samples the largest counts
}

TEST(Footprints, KeepsOnlyTheMostRecentPeaks) {
  Footprints f({.min_samples = 2, .keep = 3, .margin = 0});
  for (std::int64_t v : {9000, 9000, 9000, 100, 100, 100})
    f.add("t", "b", {.peak_mb = v});
  EXPECT_EQ(f.reservation("t", "b"), 100);
  EXPECT_EQ(f.of_task("t")[0].samples, 3U);
  EXPECT_TRUE(f.of_task("none").empty());
}

// Runs a job `runs` times: each run reserves what the footprints say (the declared figure until
// they have enough samples), uses what `use(reservation)` says, and teaches its peak. Returns the
// reservation of every run.
template <class Use>
std::vector<std::int64_t> run_many(Footprints& f, std::int64_t declared, int runs, Use use) {
  std::vector<std::int64_t> reserved;
  for (int i = 0; i < runs; ++i) {
    std::int64_t r = f.reservation("t", "b").value_or(declared);
    reserved.push_back(r);
    f.add("t", "b", {.peak_mb = use(r), .reserved_mb = r});
  }
  return reserved;
}

TEST(Footprints, AJobThatUsesWhatItIsGivenDoesNotRatchetUp) {
  // It reads VRAMQ_VRAM_MB (or its framework grabs what it is given): its peak is its
  // reservation. Before, 1501 -> 1652 -> 1818 -> 2000 ...; now it stays where it is.
  Footprints f;
  auto reserved = run_many(f, 1501, 40, [](std::int64_t r) { return r; });
  for (std::int64_t r : reserved)
    EXPECT_EQ(r, 1501);
}

TEST(Footprints, AnExactRuleIsNotInflated) {
  // unit = "vram_mb": the declared figure is exactly what the run uses.
  Footprints f;
  auto reserved = run_many(f, 4096, 20, [](std::int64_t) { return 4096; });
  EXPECT_EQ(reserved.back(), 4096);
}

TEST(Footprints, UseWithinTheToleranceAboveTheReservationIsNotEvidenceForMore) {
  // The reservation plus a CUDA context of 300 MiB, inside the 10 % tolerance: still converges.
  Footprints f;
  auto reserved = run_many(f, 4000, 40, [](std::int64_t r) { return r + 300; });
  EXPECT_EQ(reserved.back(), 4000);
}

TEST(Footprints, AnOverEstimatedRuleConvergesToThePeakPlusMarginAndStays) {
  Footprints f;
  auto reserved = run_many(f, 5000, 30, [](std::int64_t) { return 1000; });
  EXPECT_EQ(reserved[4], 5000);  // the declared rule until 5 samples
  EXPECT_EQ(reserved[5], 1100);
  EXPECT_EQ(reserved.back(), 1100);
}

TEST(Footprints, NeedOfOneSample) {
  Footprints f;  // margin 10 %, tolerance 10 %
  EXPECT_EQ(f.need_mb({.peak_mb = 1000, .reserved_mb = 5000}), 1100);  // clearly below: + margin
  EXPECT_EQ(f.need_mb({.peak_mb = 950, .reserved_mb = 1000}), 1000);   // at it: the reservation
  EXPECT_EQ(f.need_mb({.peak_mb = 1100, .reserved_mb = 1000}), 1000);  // up to the limit
  EXPECT_EQ(f.need_mb({.peak_mb = 1500, .reserved_mb = 1000}), 1500);  // past it (warn policy)
  EXPECT_EQ(f.need_mb({.peak_mb = 1000, .reserved_mb = 0}), 1100);     // reservation unknown
}

}  // namespace
}  // namespace vramq::core
