// Running jobs between their start and their end: measured use from GPU readings, the VRAM
// policy (kill and warn, the tolerance and the grace), timeouts and the kill after the grace,
// retention of ended jobs. Time moves by advance(): no test waits.
#include <signal.h>

#include <filesystem>

#include "service_harness.hpp"

namespace vramq::service {
namespace {
using core::EndReason;
using core::JobState;
using std::chrono::milliseconds;
using std::chrono::seconds;

class RunningJobs : public testing::ServiceTest {
 protected:
  void configure() override {
    config_.gpu_poll_ms = 100;
    config_.vram_grace_ms = 1000;
    config_.vram_tolerance = 0.10;
    config_.kill_grace_s = 10;
  }
  // The job reports `mb` of simulated use; then a reading is taken.
  void uses(core::JobId id, std::int64_t mb) {
    write_job_file(id, "sim-vram-mb", std::to_string(mb) + "\n");
    advance(milliseconds(config_.gpu_poll_ms));
    ASSERT_TRUE(until([&] { return measured(id) == mb; })) << "no reading showed " << mb;
  }
  std::optional<std::int64_t> measured(core::JobId id) {
    auto v = run(o_->get(id));
    return v && *v ? (*v)->measured_vram_mb : std::nullopt;
  }
  bool signalled(core::JobId id, int sig) const {
    return std::ranges::find(exec_->signals, std::make_pair(id, sig)) != exec_->signals.end();
  }
};

TEST_F(RunningJobs, ReadingsShowAJobsUseAndItsPeakStays) {
  core::JobId a = submit(2000);
  uses(a, 1500);
  EXPECT_EQ(job(a).peak_vram_mb, 1500);
  uses(a, 800);
  EXPECT_EQ(job(a).peak_vram_mb, 1500) << "the peak is the most seen";
  exec_->exit(a, 0);
  settle();
  EXPECT_EQ(job(a).peak_vram_mb, 1500);
  EXPECT_FALSE(measured(a)) << "an ended job is not measured";
}

TEST_F(RunningJobs, UseWithinTheToleranceIsLeftAlone) {
  core::JobId a = submit(2000);
  uses(a, 2200);  // 2000 + 10 %
  advance(seconds(5));
  EXPECT_TRUE(exec_->signals.empty());
  EXPECT_TRUE(job(a).warnings.empty());
}

TEST_F(RunningJobs, UseOverTheLimitPastTheGraceKillsTheJob) {
  core::JobId a = submit(2000);
  uses(a, 5000);
  EXPECT_FALSE(signalled(a, SIGTERM)) << "not before the grace is over";
  advance(milliseconds(1100));
  ASSERT_TRUE(signalled(a, SIGTERM));
  advance(seconds(10));
  EXPECT_TRUE(signalled(a, SIGKILL)) << "SIGKILL after the kill grace";
  exec_->exit_with(a, {.signal = SIGKILL});
  settle();
  core::Job j = job(a);
  EXPECT_EQ(j.state, JobState::failed);
  EXPECT_EQ(j.reason, EndReason::vram_exceeded);
  EXPECT_NE(j.error.find("used up to 5000 MiB on GPU 0"), std::string::npos) << j.error;
}

TEST_F(RunningJobs, AJobBackUnderTheLimitGetsAFreshGrace) {
  core::JobId a = submit(2000);
  uses(a, 5000);
  advance(milliseconds(600));
  uses(a, 1000);  // back under before the grace ran out
  uses(a, 5000);
  advance(milliseconds(600));
  EXPECT_FALSE(signalled(a, SIGTERM)) << "the second stretch has its own grace";
  advance(milliseconds(600));
  EXPECT_TRUE(signalled(a, SIGTERM));
}

class RunningJobsWarn : public RunningJobs {
 protected:
  void configure() override {
    RunningJobs::configure();
    config_.vram_policy = "warn";
  }
};

TEST_F(RunningJobsWarn, TheWarnPolicyRecordsItAndKeepsQuotingThePeak) {
  core::JobId a = submit(2000);
  uses(a, 5000);
  advance(milliseconds(1100));
  EXPECT_TRUE(exec_->signals.empty()) << "warn never stops a job";
  ASSERT_EQ(job(a).warnings.size(), 1U);
  EXPECT_NE(job(a).warnings[0].find("used up to 5000 MiB"), std::string::npos);
  uses(a, 7000);
  ASSERT_EQ(job(a).warnings.size(), 1U);
  EXPECT_NE(job(a).warnings[0].find("used up to 7000 MiB"), std::string::npos);
  EXPECT_EQ(store_->rows().at(a).warnings, job(a).warnings) << "stored as it changes";
}

TEST_F(RunningJobs, ATimeoutStopsTheJobAndEndsItTimedOut) {
  SubmitRequest req = request(1000);
  req.timeout_s = 30;
  core::JobId a = submit(std::move(req));
  advance(seconds(29));
  EXPECT_FALSE(signalled(a, SIGTERM));
  advance(seconds(2));
  ASSERT_TRUE(signalled(a, SIGTERM));
  exec_->exit_with(a, {.signal = SIGTERM});
  settle();
  core::Job j = job(a);
  EXPECT_EQ(j.state, JobState::timed_out);
  EXPECT_EQ(j.reason, EndReason::timeout);
  EXPECT_FALSE(signalled(a, SIGKILL)) << "it went within the grace";
}

TEST_F(RunningJobs, AnAdoptedRunsTimeoutCountsFromItsRealStart) {
  SubmitRequest req = request(1000);
  req.timeout_s = 60;
  core::JobId a = submit(std::move(req));
  std::int64_t started = job(a).started_at_ms;
  advance(seconds(40));
  restart({{.job = a,
            .attempt = 1,
            .started = true,
            .alive = true,
            .gpus = {0},
            .started_at_ms = started,
            .supervisor = {.pid = 4242, .start_ticks = 7}}});
  advance(seconds(19));
  EXPECT_FALSE(signalled(a, SIGTERM));
  advance(seconds(2));
  EXPECT_TRUE(signalled(a, SIGTERM)) << "60 s after its start, not after the adoption";
}

class Retention : public testing::ServiceTest {
 protected:
  void configure() override {
    config_.retain_ended_s = 3600;
    config_.retention_interval_s = 60;
  }
};

TEST_F(Retention, EndedJobsGoWithTheirDirectoriesOnceOldEnough) {
  core::JobId a = submit(1000);
  core::JobId b = submit(1000);
  exec_->exit(a, 0);
  settle();
  ASSERT_TRUE(std::filesystem::exists(job_dir(a)));
  advance(seconds(1800));
  exec_->exit(b, 0);
  settle();
  advance(seconds(1860));  // a ended an hour and a minute ago, b half an hour ago
  ASSERT_TRUE(until([&] { return !store_->rows().contains(a); }));
  EXPECT_TRUE(store_->rows().contains(b));
  ASSERT_TRUE(until([&] { return !std::filesystem::exists(job_dir(a)); }));
  EXPECT_TRUE(std::filesystem::exists(job_dir(b)));
  EXPECT_EQ(submit(1000), 3) << "a removed id is never handed out again";
}

}  // namespace
}  // namespace vramq::service
