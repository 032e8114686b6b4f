// What waits and what is watched, on the service harness: dependencies that fail in a cascade or
// name no job, a retry delay kept across a restart, starts that fail for host reasons waiting a
// growing back-off, clients waiting for a job's end, one request per Idempotency-Key at a time,
// and running jobs' progress read from their files at each poll.
#include <fmt/format.h>

#include <cerrno>

#include "service_harness.hpp"

namespace vramq::service {
namespace {
using core::EndReason;
using core::JobState;
using std::chrono::milliseconds;
using std::chrono::seconds;

class Waiting : public testing::ServiceTest {};

TEST_F(Waiting, AFailedDependencyCancelsItsDependentsInACascade) {
  core::JobId a = submit(1000);
  core::JobId b = submit(1000, {a});
  core::JobId c = submit(1000, {b});
  EXPECT_EQ(job(b).state, JobState::queued);
  exec_->exit(a, 3);
  settle();
  for (core::JobId dependent : {b, c}) {
    core::Job j = job(dependent);
    EXPECT_EQ(j.state, JobState::cancelled) << dependent;
    EXPECT_EQ(j.reason, EndReason::dependency_failed) << dependent;
  }
  EXPECT_NE(job(c).error.find(fmt::format("job {}", b)), std::string::npos) << job(c).error;
  EXPECT_EQ(exec_->started.size(), 1U) << "neither dependent ever ran";
}

TEST_F(Waiting, ADependencyOnNoJobIsRefusedAndTakesNoId) {
  SubmitRequest req = request(1000);
  req.after_ok = {999};
  auto r = run(o_->submit(std::move(req)));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().field, "after");
  EXPECT_EQ(submit(1000), 1) << "the refused request used no id";
}

TEST_F(Waiting, ARetryDelayIsKeptAcrossARestart) {
  SubmitRequest req = request(1000);
  req.max_retries = 1;
  req.retry_delay_s = 60;
  core::JobId a = submit(std::move(req));
  exec_->exit(a, 1);
  settle();
  ASSERT_EQ(job(a).state, JobState::queued);
  restart({});
  EXPECT_EQ(exec_->started.size(), 0U) << "the new server waits out the delay too";
  auto v = run(o_->get(a));
  EXPECT_EQ((*v)->pending_reason, core::PendingReason::retry_delay);
  advance(seconds(61));
  ASSERT_EQ(exec_->started.size(), 1U);
  EXPECT_EQ(exec_->started.front().attempt, 2);
}

TEST_F(Waiting, HostFailuresInARowWaitLongerEachTimeAndASuccessResetsThem) {
  std::vector<std::int64_t> waits;
  core::JobId a = 0;
  for (int i = 0; i < 3; ++i) {
    exec_->fail_next = exec::SpawnError{ENOSPC, "No space left on device"};
    if (i == 0) {
      a = submit(1000);
    } else {
      advance(milliseconds(waits.back() + 10));
    }
    core::Job j = job(a);
    ASSERT_EQ(j.state, JobState::queued);
    waits.push_back(j.not_before_ms - now_ms());
  }
  EXPECT_NEAR(waits[0], 1000, 50);
  EXPECT_NEAR(waits[1], 2000, 50);
  EXPECT_NEAR(waits[2], 4000, 50);
  EXPECT_EQ(job(a).attempt, 1) << "no attempt was used up";
  advance(milliseconds(waits.back() + 10));
  ASSERT_EQ(job(a).state, JobState::running);
  exec_->exit(a, 0);
  settle();
  exec_->fail_next = exec::SpawnError{ENOSPC, "No space left on device"};
  core::Job b = job(submit(1000));
  EXPECT_NEAR(b.not_before_ms - now_ms(), 1000, 50) << "the back-off restarts";
}

TEST_F(Waiting, AClientWaitingForAJobIsAnsweredWhenItEnds) {
  core::JobId a = submit(1000);
  auto answer =
      boost::asio::co_spawn(ioc_, o_->wait(a, milliseconds(60'000)), boost::asio::use_future);
  settle();
  EXPECT_NE(answer.wait_for(seconds(0)), std::future_status::ready) << "it still runs";
  exec_->exit(a, 0);
  ASSERT_TRUE(until([&] { return answer.wait_for(seconds(0)) == std::future_status::ready; }));
  auto got = answer.get();
  ASSERT_TRUE(got && *got);
  EXPECT_EQ((*got)->job.state, JobState::succeeded);
}

TEST_F(Waiting, TwoRequestsWithOneKeyAtOnceMakeOneJob) {
  SubmitRequest req = request(1000);
  req.idempotency_key = "k-1";
  req.body_hash = "h";
  auto first = boost::asio::co_spawn(ioc_, o_->submit(req), boost::asio::use_future);
  auto second = boost::asio::co_spawn(ioc_, o_->submit(req), boost::asio::use_future);
  ASSERT_TRUE(until([&] {
    return first.wait_for(seconds(0)) == std::future_status::ready &&
           second.wait_for(seconds(0)) == std::future_status::ready;
  }));
  auto a = first.get();
  auto b = second.get();
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->job.id, b->job.id);
  EXPECT_NE(a->replayed, b->replayed) << "one made it, the other got it back";
  EXPECT_EQ(exec_->started.size(), 1U);
}

class Progress : public testing::ServiceTest {
 protected:
  void configure() override { config_.gpu_poll_ms = 1000; }
};

TEST_F(Progress, AReportInTheProgressFileIsShownWithAnEstimate) {
  core::JobId a = submit(1000);
  advance(seconds(10));
  write_job_file(a, "progress.jsonl",
                 R"({"fraction": 0.25, "message": "marching cubes"})"
                 "\n");
  advance(milliseconds(1100));  // a poll reads it
  auto v = run(o_->get(a));
  ASSERT_TRUE(v && *v);
  ASSERT_TRUE((*v)->progress);
  EXPECT_DOUBLE_EQ((*v)->progress->fraction.value_or(0), 0.25);
  EXPECT_EQ((*v)->progress->message, "marching cubes");
  // A quarter done after about 11 s: about 33 s to go at that pace.
  ASSERT_TRUE((*v)->progress->eta_s);
  EXPECT_NEAR(*(*v)->progress->eta_s, 33.3, 1.0);
}

TEST_F(Progress, ATqdmBarOnStderrIsReadUntilTheJobReportsItself) {
  core::JobId a = submit(1000);
  write_job_file(a, "stderr.log", "step:  40%|####      | 4/10 [00:04<00:06,  1.00it/s]");
  advance(milliseconds(1100));
  auto v = run(o_->get(a));
  ASSERT_TRUE((*v)->progress);
  EXPECT_DOUBLE_EQ((*v)->progress->fraction.value_or(0), 0.4);
  write_job_file(a, "progress.jsonl",
                 R"({"fraction": 0.9})"
                 "\n");
  advance(milliseconds(1100));
  write_job_file(a, "stderr.log", "step:  50%|#####     | 5/10 [00:05<00:05,  1.00it/s]");
  advance(milliseconds(1100));
  v = run(o_->get(a));
  EXPECT_DOUBLE_EQ((*v)->progress->fraction.value_or(0), 0.9) << "its own reports win";
}

}  // namespace
}  // namespace vramq::service
