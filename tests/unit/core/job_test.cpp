#include "core/job.hpp"

#include <gtest/gtest.h>

namespace vramq::core {
namespace {

constexpr JobState kAll[] = {JobState::queued, JobState::running,   JobState::succeeded,
                             JobState::failed, JobState::cancelled, JobState::timed_out};

TEST(JobState, NamesRoundTrip) {
  for (JobState s : kAll)
    EXPECT_EQ(parse_job_state(to_string(s)), s);
  EXPECT_FALSE(parse_job_state("Queued"));
  EXPECT_FALSE(parse_job_state(""));
}

TEST(JobState, TransitionTableIsExactlyTheLifecycle) {
  // Every pair, so that a new edge cannot slip in unnoticed.
  auto allowed = [](JobState a, JobState b) {
    using enum JobState;
    if (a == queued) return b == running || b == cancelled || b == failed;
    if (a == running) return b != running;
    return false;
  };
  for (JobState from : kAll) {
    for (JobState to : kAll) {
      EXPECT_EQ(can_transition(from, to), allowed(from, to))
          << to_string(from) << " -> " << to_string(to);
    }
  }
}

TEST(JobState, TerminalStates) {
  EXPECT_FALSE(is_terminal(JobState::queued));
  EXPECT_FALSE(is_terminal(JobState::running));
  EXPECT_TRUE(is_terminal(JobState::succeeded));
  EXPECT_TRUE(is_terminal(JobState::failed));
  EXPECT_TRUE(is_terminal(JobState::cancelled));
  EXPECT_TRUE(is_terminal(JobState::timed_out));
}

TEST(EndReason, NamesRoundTrip) {
  for (int i = 0; i <= static_cast<int>(EndReason::vram_exceeded); ++i) {
    auto r = static_cast<EndReason>(i);
    EXPECT_EQ(parse_end_reason(to_string(r)), r);
  }
  EXPECT_EQ(to_string(EndReason::gpu_oom), "gpu_oom");
  EXPECT_FALSE(parse_end_reason("oom"));
}

TEST(PendingReason, StableCodes) {
  EXPECT_EQ(to_string(PendingReason::vram), "vram");
  EXPECT_EQ(to_string(PendingReason::head_of_line), "head_of_line");
  EXPECT_EQ(to_string(PendingReason::priority), "priority");
  EXPECT_EQ(to_string(PendingReason::draining), "draining");
  EXPECT_EQ(to_string(PendingReason::gpu_unknown), "gpu_unknown");
}

}  // namespace
}  // namespace vramq::core
