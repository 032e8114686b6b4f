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
    f.add("triposr", "mc_resolution=256", 5000);
  EXPECT_FALSE(f.reservation("triposr", "mc_resolution=256"));
  f.add("triposr", "mc_resolution=256", 5000);
  EXPECT_EQ(f.reservation("triposr", "mc_resolution=256"), 5500);  // 5000 * 1.1
  EXPECT_FALSE(f.reservation("triposr", "mc_resolution=512"));
  EXPECT_FALSE(f.reservation("pixel2mesh", "mc_resolution=256"));
}

TEST(Footprints, P95IgnoresARareOutlierOnlyWhenThereAreEnoughSamples) {
  Footprints f;
  for (int i = 1; i <= 19; ++i)
    f.add("t", "", 1000 + i);  // 1001..1019
  f.add("t", "", 9000);
  auto e = f.of_task("t");
  ASSERT_EQ(e.size(), 1U);
  EXPECT_EQ(e[0].samples, 20U);
  EXPECT_EQ(e[0].p95_mb, 1019);  // rank ceil(0.95 * 20) = 19
  EXPECT_EQ(e[0].reserve_mb, 1121);
  Footprints small;
  for (std::int64_t v : {1000, 1000, 1000, 1000, 3000})
    small.add("t", "", v);
  EXPECT_EQ(small.of_task("t")[0].p95_mb, 3000);  // with 5 samples the largest counts
}

TEST(Footprints, KeepsOnlyTheMostRecentPeaks) {
  Footprints f({.min_samples = 2, .keep = 3, .margin = 0});
  for (std::int64_t v : {9000, 9000, 9000, 100, 100, 100})
    f.add("t", "b", v);
  EXPECT_EQ(f.reservation("t", "b"), 100);
  EXPECT_EQ(f.of_task("t")[0].samples, 3U);
  EXPECT_TRUE(f.of_task("none").empty());
}

}  // namespace
}  // namespace vramq::core
