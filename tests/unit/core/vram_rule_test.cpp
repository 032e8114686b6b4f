#include "core/vram_rule.hpp"

#include <gtest/gtest.h>

namespace vramq::core {
namespace {

using Values = std::map<std::string, double, std::less<>>;

TEST(VramRule, BaseOnly) {
  auto rule = VramRule::make(6144, 0, "", {});
  ASSERT_TRUE(rule);
  EXPECT_EQ(*rule->evaluate({}), 6144);
}

TEST(VramRule, TripoSrCube) {
  // The article's TripoSR: ~6 GiB base, growing with the marching-cubes resolution cubed.
  auto rule = VramRule::make(6144, 0.004, "mc_resolution^3", {"mc_resolution"});
  ASSERT_TRUE(rule);
  EXPECT_EQ(*rule->evaluate(Values{{"mc_resolution", 256}}),
            6144 + 67109);  // 0.004*256^3 rounded up
  EXPECT_EQ(*rule->evaluate(Values{{"mc_resolution", 32}}), 6144 + 132);
}

TEST(VramRule, ProductOfFactorsAndConstants) {
  auto rule = VramRule::make(100, 0.5, "batch * width * height * 2", {"batch", "width", "height"});
  ASSERT_TRUE(rule);
  EXPECT_EQ(*rule->evaluate(Values{{"batch", 2}, {"width", 10}, {"height", 10}}), 100 + 200);
}

TEST(VramRule, RoundsUp) {
  auto rule = VramRule::make(0, 0.1, "n", {"n"});
  EXPECT_EQ(*rule->evaluate(Values{{"n", 11}}), 2);
  EXPECT_EQ(*rule->evaluate(Values{{"n", 10}}), 1);
}

TEST(VramRule, RejectsBadRules) {
  EXPECT_FALSE(VramRule::make(-1, 0, "", {}));
  EXPECT_FALSE(VramRule::make(0, -1, "n", {"n"}));
  EXPECT_FALSE(VramRule::make(0, 1, "", {}));        // per-unit without a unit
  EXPECT_FALSE(VramRule::make(0, 1, "m", {"n"}));    // not a numeric parameter
  EXPECT_FALSE(VramRule::make(0, 1, "n^5", {"n"}));  // exponent out of range
  EXPECT_FALSE(VramRule::make(0, 1, "n^x", {"n"}));
  EXPECT_FALSE(VramRule::make(0, 1, "n*", {"n"}));
  EXPECT_FALSE(VramRule::make(0, 1, "n**m", {"n", "m"}));
  auto r = VramRule::make(0, 1, "size", {"n"});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("size"), std::string::npos);
}

TEST(VramRule, EvaluateFailsOnMissingOrHugeValues) {
  auto rule = VramRule::make(0, 1, "n^4", {"n"});
  EXPECT_FALSE(rule->evaluate({}));
  EXPECT_FALSE(rule->evaluate(Values{{"n", 1e9}}));
  EXPECT_EQ(*rule->evaluate(Values{{"n", -1}}), 1);  // an even power of a negative is fine
  auto neg = VramRule::make(0, 1, "n", {"n"});
  EXPECT_FALSE(neg->evaluate(Values{{"n", -5}}));
}

}  // namespace
}  // namespace vramq::core
