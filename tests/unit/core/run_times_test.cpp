#include "core/run_times.hpp"

#include <gtest/gtest.h>

namespace vramq::core {
namespace {

JobSpec spec(std::string task, std::string params, std::int64_t timeout_s = 0) {
  JobSpec s;
  s.task = std::move(task);
  s.params_json = std::move(params);
  s.timeout_s = timeout_s;
  return s;
}

TEST(RunTimes, SameParametersThenTaskThenAllRuns) {
  RunTimes t;
  EXPECT_EQ(t.expected_ms(spec("a", "{}")), 10'000);  // the guess before any run
  t.add(spec("a", R"({"n":1})"), 4.0, true);
  EXPECT_EQ(t.expected_ms(spec("a", R"({"n":1})")), 4000);
  t.add(spec("a", R"({"n":2})"), 8.0, true);
  EXPECT_EQ(t.expected_ms(spec("a", R"({"n":2})")), 8000);
  // Task "a" averaged 4 then 8 (0.7 * 4 + 0.3 * 8); unseen parameters get that.
  EXPECT_NEAR(t.expected_ms(spec("a", R"({"n":3})")), 5200, 1);
  // An unseen task gets the mean of every run: 10 -> 9.4 -> 9.26.
  EXPECT_NEAR(t.expected_ms(spec("b", "{}")), 9260, 1);
}

TEST(RunTimes, FailedRunsMoveOnlyTheMeanAndTimeoutsBoundTheExpectation) {
  RunTimes t;
  t.add(spec("a", "{}"), 100.0, false);
  EXPECT_EQ(t.keys(), 0u);
  EXPECT_EQ(t.expected_ms(spec("a", "{}")), 19'000);  // 0.9 * 10 + 0.1 * 100
  EXPECT_EQ(t.expected_ms(spec("a", "{}", 5)), 5000);
}

TEST(RunTimes, KeysAreBoundedAndStartAfresh) {
  RunTimes t;
  std::size_t most = 0;
  for (std::size_t i = 0; i < RunTimes::kMaxKeys; ++i) {
    t.add(spec("a", std::to_string(i)), 1.0, true);  // "a" and "a\nI": one new key each
    most = std::max(most, t.keys());
  }
  EXPECT_LE(most, RunTimes::kMaxKeys + 1);  // checked before the two keys of a run go in
  EXPECT_LT(t.keys(), 10u);                 // it started afresh
  t.add(spec("z", "{}"), 2.0, true);
  EXPECT_EQ(t.expected_ms(spec("z", "{}")), 2000);
}

TEST(RunTimes, RetryAfterIsAMeanRunPerParallelRunWithinBounds) {
  RunTimes t;
  EXPECT_EQ(t.retry_after_s(0), 10);
  EXPECT_EQ(t.retry_after_s(4), 3);  // ceil(10 / 4)
  EXPECT_EQ(t.retry_after_s(1000), 1);
  for (int i = 0; i < 200; ++i)
    t.add(spec("a", "{}"), 1e6, true);
  EXPECT_EQ(t.retry_after_s(1), 3600);
}

}  // namespace
}  // namespace vramq::core
