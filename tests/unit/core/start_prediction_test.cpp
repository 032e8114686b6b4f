#include "core/start_prediction.hpp"

#include <gtest/gtest.h>

namespace vramq::core {
namespace {

TEST(StartPrediction, WaitsForTheRunningJobsThatHoldTheRoom) {
  // One GPU with 3000 MiB free; a 20000 MiB job ends in 20 s: a 8000 MiB job waits for it, not
  // for a "mean run time" of 5 s.
  PredictionGpu gpus[] = {{.free_mb = 3000}};
  PredictionRunning running[] = {{.gpu = 0, .committed_mb = 20000, .end_ms = 20'000}};
  PredictionQueued queue[] = {{.vram_mb = 8000, .duration_ms = 5000}};
  EXPECT_EQ(predict_start_ms(0, gpus, running, queue), 20'000);
}

TEST(StartPrediction, AJobThatFitsNowStartsNow) {
  PredictionGpu gpus[] = {{.free_mb = 9000}};
  PredictionRunning running[] = {{.gpu = 0, .committed_mb = 10000, .end_ms = 60'000}};
  PredictionQueued queue[] = {{.vram_mb = 8000, .duration_ms = 5000}};
  EXPECT_EQ(predict_start_ms(1000, gpus, running, queue), 1000);
}

TEST(StartPrediction, JobsAheadGoFirstInQueueOrder) {
  // Two GPUs of 10000 free after their running jobs end at 10 s and 30 s; ahead: a 10000 MiB job
  // of 100 s. It takes GPU 0 at 10 s; ours (10000) takes GPU 1 at 30 s.
  PredictionGpu gpus[] = {{.free_mb = 0}, {.free_mb = 0}};
  PredictionRunning running[] = {{.gpu = 0, .committed_mb = 10000, .end_ms = 10'000},
                                 {.gpu = 1, .committed_mb = 10000, .end_ms = 30'000}};
  PredictionQueued queue[] = {{.vram_mb = 10000, .duration_ms = 100'000},
                              {.vram_mb = 10000, .duration_ms = 1000}};
  EXPECT_EQ(predict_start_ms(0, gpus, running, queue), 30'000);
}

TEST(StartPrediction, AnOverdueJobIsExpectedToEndNow) {
  PredictionGpu gpus[] = {{.free_mb = 0}};
  PredictionRunning running[] = {{.gpu = 0, .committed_mb = 5000, .end_ms = 1000}};
  PredictionQueued queue[] = {{.vram_mb = 5000, .duration_ms = 1}};
  EXPECT_EQ(predict_start_ms(50'000, gpus, running, queue), 50'000);
}

TEST(StartPrediction, NothingToForeseeWithoutRoomOrReadings) {
  PredictionGpu gpus[] = {{.free_mb = 1000}};
  PredictionQueued too_big[] = {{.vram_mb = 5000, .duration_ms = 1}};
  EXPECT_EQ(predict_start_ms(0, gpus, {}, too_big), std::nullopt);
  PredictionGpu unknown[] = {{.free_mb = 9000, .known = false}};
  PredictionQueued small[] = {{.vram_mb = 5000, .duration_ms = 1}};
  EXPECT_EQ(predict_start_ms(0, unknown, {}, small), std::nullopt);
}

TEST(StartPrediction, PastTheLimitTheRateIsExtrapolated) {
  // 1 GPU, room for one 1000 MiB job at a time, each 10 s: job n starts at 10 n s.
  PredictionGpu gpus[] = {{.free_mb = 1000}};
  std::vector<PredictionQueued> queue(101, {.vram_mb = 1000, .duration_ms = 10'000});
  EXPECT_EQ(predict_start_ms(0, gpus, {}, queue), 1'000'000);
  EXPECT_EQ(predict_start_ms(0, gpus, {}, queue, 10), 1'000'000);
}

}  // namespace
}  // namespace vramq::core
