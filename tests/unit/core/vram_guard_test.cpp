// The VRAM guard's rules: limits with tolerance, the grace period and its reset, acting once,
// out-of-memory recognition, retry growth and blame.
#include "core/vram_guard.hpp"

#include <gtest/gtest.h>

namespace vramq::core {
namespace {

TEST(VramGuard, ToleranceParsesFractionsAndPercentages) {
  EXPECT_DOUBLE_EQ(*parse_tolerance("0.1"), 0.1);
  EXPECT_DOUBLE_EQ(*parse_tolerance("10%"), 0.1);
  EXPECT_DOUBLE_EQ(*parse_tolerance(" 0 "), 0.0);
  EXPECT_DOUBLE_EQ(*parse_tolerance("150%"), 1.5);
  EXPECT_DOUBLE_EQ(*parse_tolerance("1"), 1.0);
  for (const char* bad : {"", "%", "-5%", "ten", "0.1x", "nan", "inf"})
    EXPECT_FALSE(parse_tolerance(bad)) << bad;
  // "10" is 10 % typed without its sign far more often than 1000 %: refused, with the fix named.
  auto ambiguous = parse_tolerance("10");
  ASSERT_FALSE(ambiguous);
  EXPECT_NE(ambiguous.error().message.find("(10%)"), std::string::npos)
      << ambiguous.error().message;
}

TEST(VramGuard, LimitIsReservationPlusTolerance) {
  EXPECT_EQ(vram_limit_mb(1000, 0.10), 1100);
  EXPECT_EQ(vram_limit_mb(1000, 0.0), 1000);
  EXPECT_EQ(vram_limit_mb(999, 0.10), 1098);  // rounded down
  EXPECT_EQ(vram_limit_mb(0, 0.10), 0);
}

TEST(VramGuard, ActsOnceAfterTheGraceAndOnlyThen) {
  VramLimits limits{.tolerance = 0.10, .grace_ms = 1000, .policy = VramPolicy::kill};
  OverUse s;
  EXPECT_EQ(judge_vram(1000, std::nullopt, 0, limits, s), VramVerdict::within);
  EXPECT_EQ(judge_vram(1000, 1100, 0, limits, s), VramVerdict::within);  // at the limit: fine
  EXPECT_EQ(judge_vram(1000, 1101, 100, limits, s), VramVerdict::over);
  EXPECT_EQ(judge_vram(1000, 1500, 1099, limits, s), VramVerdict::over);
  EXPECT_EQ(judge_vram(1000, 1500, 1100, limits, s), VramVerdict::act);
  EXPECT_EQ(judge_vram(1000, 1500, 5000, limits, s), VramVerdict::over);  // acted once already
}

TEST(VramGuard, KeepsThePeakOverTheLimit) {
  VramLimits limits{.tolerance = 0.10, .grace_ms = 1000, .policy = VramPolicy::warn};
  OverUse s;
  judge_vram(1000, 1050, 0, limits, s);
  EXPECT_EQ(s.peak_mb, 0);  // within the tolerance: not over
  judge_vram(1000, 1200, 10, limits, s);
  judge_vram(1000, 1900, 500, limits, s);
  judge_vram(1000, 1300, 1200, limits, s);  // acts here, on a lower reading
  EXPECT_EQ(s.peak_mb, 1900);
  judge_vram(1000, 2500, 2000, limits, s);
  EXPECT_EQ(s.peak_mb, 2500);
}

TEST(VramGuard, DroppingBackUnderRestartsTheGrace) {
  VramLimits limits{.tolerance = 0.0, .grace_ms = 1000};
  OverUse s;
  EXPECT_EQ(judge_vram(1000, 2000, 0, limits, s), VramVerdict::over);
  EXPECT_EQ(judge_vram(1000, 900, 900, limits, s), VramVerdict::within);
  EXPECT_EQ(judge_vram(1000, 2000, 1500, limits, s), VramVerdict::over);  // a new stretch
  EXPECT_EQ(judge_vram(1000, 2000, 2499, limits, s), VramVerdict::over);
  EXPECT_EQ(judge_vram(1000, 2000, 2500, limits, s), VramVerdict::act);
}

TEST(VramGuard, ZeroGraceActsOnTheFirstReadingOver) {
  OverUse s;
  EXPECT_EQ(judge_vram(1000, 1200, 7, {.tolerance = 0.1, .grace_ms = 0}, s), VramVerdict::act);
}

TEST(VramGuard, RecognisesCudaOutOfMemory) {
  EXPECT_TRUE(looks_like_gpu_oom(
      "Traceback...\ntorch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB."));
  EXPECT_TRUE(looks_like_gpu_oom("RuntimeError: CUDA error: out of memory\nCUDA kernel errors"));
  EXPECT_TRUE(looks_like_gpu_oom("cudaMalloc failed: cudaErrorMemoryAllocation"));
  EXPECT_TRUE(looks_like_gpu_oom("CUBLAS_STATUS_ALLOC_FAILED when calling cublasCreate"));
  EXPECT_FALSE(looks_like_gpu_oom("MemoryError: host out of memory"));
  EXPECT_FALSE(looks_like_gpu_oom("Killed"));
  EXPECT_FALSE(looks_like_gpu_oom(""));
}

TEST(VramGuard, RetryGrowsByHalfCappedByTheLargestGpu) {
  EXPECT_EQ(grown_reservation_mb(2000, 23552), 3000);
  EXPECT_EQ(grown_reservation_mb(20000, 23552), 23552);
  EXPECT_EQ(grown_reservation_mb(23552, 23552), 23552);
  EXPECT_EQ(grown_reservation_mb(1, 23552), 2);
  EXPECT_EQ(grown_reservation_mb(0, 23552), 1);
}

TEST(VramGuard, BlameSaysWhoPushedTheGpuOver) {
  EXPECT_NE(gpu_oom_error(2000, 2600).find("the job itself used 2600 MiB"), std::string::npos);
  EXPECT_NE(gpu_oom_error(2000, 1800).find("a neighbour or a foreign process"), std::string::npos);
  EXPECT_NE(gpu_oom_error(2000, std::nullopt).find("cannot be told"), std::string::npos);
  EXPECT_EQ(to_string(VramPolicy::warn), "warn");
  EXPECT_EQ(parse_vram_policy("kill"), VramPolicy::kill);
  EXPECT_FALSE(parse_vram_policy("KILL"));
}

}  // namespace
}  // namespace vramq::core
