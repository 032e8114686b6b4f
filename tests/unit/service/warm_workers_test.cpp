// Warm workers on the service harness (docs/workers.md): the test plays the worker on the far
// end of its stdin/stdout (a socketpair the fake executor makes) and its process's exit. Routing
// of runs to idle workers, eviction for another task, keep-alive, pings, the setup deadline,
// crashes and their growing back-off, every failure row of the docs, cancel, and the requeue
// of a run in flight when the server died.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <fmt/format.h>

#include "exec/worker_protocol.hpp"
#include "service_harness.hpp"

namespace vramq::service {
namespace {
using core::EndReason;
using core::JobState;
using core::WorkerState;
using exec::WorkerCommand;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr std::string_view kWorkerCatalog = R"(
[tasks.a]
argv = ["/bin/true"]
[tasks.a.worker]
argv = ["/bin/true", "--worker"]
keep_alive_s = 300
max_workers = 1
setup_timeout_s = 30
[tasks.a.params]
mb = { type = "int", min = 0, max = 100000, default = 14000 }
[tasks.a.vram]
base_mb = 0
per_unit_mb = 1
unit = "mb"

[tasks.b]
argv = ["/bin/true"]
[tasks.b.worker]
argv = ["/bin/true", "--worker"]
requeue_on_restart = false
[tasks.b.params]
mb = { type = "int", min = 0, max = 100000, default = 14000 }
[tasks.b.vram]
base_mb = 0
per_unit_mb = 1
unit = "mb"
)";

class WarmWorkers : public testing::ServiceTest {
 protected:
  void configure() override {
    catalog_ = std::string(kWorkerCatalog) + std::string(testing::kRunCatalog);
    config_.worker_ping_ms = 5000;
    config_.kill_grace_s = 10;
    config_.gpu_poll_ms = 100;  // a back-off's end is noticed at the next pass
  }
  void TearDown() override {
    for (auto [key, fd] : exec_->worker_ends)
      ::close(fd);
    ServiceTest::TearDown();
  }

  core::JobId submit_to(std::string task, int retries = 0) {
    SubmitRequest req{.task = std::move(task), .max_retries = retries};
    return submit(std::move(req));
  }
  int end_of(core::WorkerId w) { return exec_->worker_ends.at(-w); }
  // The next line vramq sent worker `w`, parsed (fails the test if none comes).
  WorkerCommand next(core::WorkerId w) {
    std::string& buf = pending_[w];
    bool got = until([&] {
      char chunk[4096];
      ::fcntl(end_of(w), F_SETFL, O_NONBLOCK);
      ssize_t n = ::read(end_of(w), chunk, sizeof chunk);
      if (n > 0) buf.append(chunk, static_cast<std::size_t>(n));
      return buf.find('\n') != std::string::npos;
    });
    EXPECT_TRUE(got) << "worker " << w << " was sent nothing";
    if (!got) return {};
    std::string line = buf.substr(0, buf.find('\n'));
    buf.erase(0, line.size() + 1);
    auto parsed = exec::parse_worker_command(line);
    EXPECT_TRUE(parsed) << line;
    return parsed ? *parsed : WorkerCommand{};
  }
  void say(core::WorkerId w, const std::string& line) {
    ASSERT_EQ(::write(end_of(w), line.data(), line.size()), static_cast<ssize_t>(line.size()));
    settle();
  }
  // Worker `w` loads (its init read) and says ready.
  void ready(core::WorkerId w) {
    EXPECT_EQ(next(w).type, WorkerCommand::Type::init);
    say(w, exec::ready_line());
  }
  // Worker `w` gets a run and answers it with `output`; the run's job id.
  core::JobId serve(core::WorkerId w, std::string output = "done") {
    WorkerCommand run = next(w);
    EXPECT_EQ(run.type, WorkerCommand::Type::run);
    say(w, exec::result_line(run.job, output));
    return run.job;
  }
  std::vector<WorkerStatus> workers() { return o_->workers().statuses(); }
  std::optional<WorkerStatus> worker(core::WorkerId w) {
    for (const WorkerStatus& s : o_->workers().statuses()) {
      if (s.id == w) return s;
    }
    return std::nullopt;
  }
  void worker_exits(core::WorkerId w, exec::ExitStatus status = {.exit_code = 0}) {
    exec_->exit_with(-w, std::move(status));
    settle();
  }
  bool signalled(core::WorkerId w, int sig) const {
    return std::ranges::find(exec_->signals, std::make_pair(core::JobId{-w}, sig)) !=
           exec_->signals.end();
  }
  core::PendingReason pending(core::JobId id) {
    auto v = run(o_->get(id));
    return (*v)->pending_reason;
  }

  std::map<core::WorkerId, std::string> pending_;
};

TEST_F(WarmWorkers, ALoadedWorkerServesRunAfterRunAndKeepsItsMemory) {
  core::JobId j1 = submit_to("a");
  ASSERT_EQ(workers().size(), 1U);
  EXPECT_EQ(workers()[0].state, WorkerState::starting);
  ready(1);
  EXPECT_EQ(serve(1, "mesh-1"), j1);
  EXPECT_EQ(job(j1).state, JobState::succeeded);
  EXPECT_EQ(job(j1).output, "mesh-1");
  EXPECT_EQ(job(j1).worker, 1);
  ASSERT_EQ(workers()[0].state, WorkerState::idle);
  core::JobId j2 = submit_to("a");
  EXPECT_EQ(serve(1), j2);
  EXPECT_EQ(job(j2).worker, 1) << "the same worker: the model loads once";
  EXPECT_EQ(exec_->worker_ends.size(), 1U);
  EXPECT_EQ(workers()[0].runs, 2);
  // Idle, it still holds the model: a plain job that needs the room waits... then gets it.
  EXPECT_EQ(o_->gpus()[0].committed_mb, 14000);
}

TEST_F(WarmWorkers, AnIdleWorkerIsUnloadedForAnotherTasksRun) {
  submit_to("a");
  ready(1);
  serve(1);
  core::JobId jb = submit_to("b");  // 14000 + 14000 + 1024 > 24576: a's worker must go
  EXPECT_EQ(next(1).type, WorkerCommand::Type::shutdown);
  EXPECT_EQ(worker(1)->state, WorkerState::unloading);
  EXPECT_EQ(pending(jb), core::PendingReason::worker_unloading);
  EXPECT_FALSE(exec_->worker_ends.contains(-2)) << "not before the first is gone";
  worker_exits(1);
  ASSERT_TRUE(exec_->worker_ends.contains(-2));
  ready(2);
  EXPECT_EQ(serve(2), jb);
  EXPECT_EQ(job(jb).state, JobState::succeeded);
}

TEST_F(WarmWorkers, ABusyWorkerIsNeverEvictedAndMaxWorkersHoldsRunsBack) {
  core::JobId j1 = submit_to("a");
  ready(1);
  WorkerCommand first = next(1);
  core::JobId j2 = submit_to("a");
  EXPECT_EQ(pending(j2), core::PendingReason::worker_busy) << "max_workers = 1";
  core::JobId plain = submit(10000);  // 14000 + 10000 + 1024 > 24576
  EXPECT_FALSE(exec_->runs(plain)) << "no room while the worker serves: a busy one stays";
  say(1, exec::result_line(first.job, "x"));
  EXPECT_EQ(job(j1).state, JobState::succeeded);
  EXPECT_EQ(serve(1), j2) << "the idle worker takes the next run of its task first";
}

TEST_F(WarmWorkers, KeepAliveUnloadsAnIdleWorker) {
  submit_to("a");
  ready(1);
  serve(1);
  advance(seconds(299));
  EXPECT_EQ(worker(1)->state, WorkerState::idle);
  // Pings kept it alive meanwhile: answer them.
  advance(seconds(2));
  WorkerCommand c = next(1);
  while (c.type == WorkerCommand::Type::ping) {
    say(1, exec::pong_line(c.seq));
    c = next(1);
  }
  EXPECT_EQ(c.type, WorkerCommand::Type::shutdown);
  EXPECT_EQ(worker(1)->state, WorkerState::unloading);
  worker_exits(1);
  EXPECT_TRUE(workers().empty());
}

TEST_F(WarmWorkers, AnIdleWorkerThatDoesNotAnswerAPingIsKilled) {
  submit_to("a");
  ready(1);
  serve(1);
  advance(milliseconds(5000));
  EXPECT_EQ(next(1).type, WorkerCommand::Type::ping);
  EXPECT_FALSE(signalled(1, SIGKILL));
  advance(milliseconds(5000));  // no pong by the next ping
  EXPECT_TRUE(signalled(1, SIGKILL) || signalled(1, SIGTERM));
  worker_exits(1, {.signal = SIGKILL});
  EXPECT_TRUE(workers().empty()) << "never shown idle while hung";
}

TEST_F(WarmWorkers, AWorkerNotReadyWithinItsSetupTimeIsStoppedAndItsRunFails) {
  core::JobId j = submit_to("a");
  EXPECT_EQ(next(1).type, WorkerCommand::Type::init);
  advance(seconds(31));
  EXPECT_TRUE(signalled(1, SIGTERM) || signalled(1, SIGKILL));
  worker_exits(1, {.signal = SIGTERM});
  core::Job failed = job(j);
  EXPECT_EQ(failed.state, JobState::failed);
  EXPECT_EQ(failed.reason, EndReason::worker_crashed);
}

TEST_F(WarmWorkers, ErrorsAreTheRunsAndTheWorkerGoesOn) {
  core::JobId j1 = submit_to("a");
  ready(1);
  WorkerCommand r1 = next(1);
  say(1, exec::error_line(r1.job, "bad image", false));
  EXPECT_EQ(job(j1).reason, EndReason::worker_error);
  EXPECT_NE(job(j1).error.find("bad image"), std::string::npos) << job(j1).error;
  core::JobId j2 = submit_to("a", 1);
  WorkerCommand r2 = next(1);
  say(1, exec::error_line(r2.job, "remote store busy", true));
  EXPECT_EQ(job(j2).attempt, 2) << "retryable: retried within max_retries";
  EXPECT_EQ(serve(1), j2);
  EXPECT_EQ(job(j2).state, JobState::succeeded);
  EXPECT_EQ(worker(1)->state, WorkerState::idle);
}

TEST_F(WarmWorkers, ACudaOutOfMemoryErrorIsGpuOomAndRetriedWithMore) {
  core::JobId j = submit_to("a", 1);
  ready(1);
  WorkerCommand r = next(1);
  say(1, exec::error_line(r.job, "torch.OutOfMemoryError: CUDA out of memory.", true));
  core::Job after = job(j);
  EXPECT_EQ(after.attempt, 2);
  EXPECT_EQ(after.spec.vram_mb, 21000);
}

TEST_F(WarmWorkers, AWorkerThatDiesMidRunFailsItAndTheNextGetsANewWorker) {
  core::JobId j1 = submit_to("a");
  ready(1);
  next(1);  // the run
  worker_exits(1, {.signal = SIGSEGV});
  core::Job failed = job(j1);
  EXPECT_EQ(failed.state, JobState::failed);
  EXPECT_EQ(failed.reason, EndReason::worker_crashed);
  EXPECT_TRUE(workers().empty());
  core::JobId j2 = submit_to("a");
  EXPECT_EQ(pending(j2), core::PendingReason::worker_backoff) << "it crashed: a back-off";
  advance(milliseconds(1100));
  ASSERT_TRUE(exec_->worker_ends.contains(-2));
  ready(2);
  EXPECT_EQ(serve(2), j2);
}

TEST_F(WarmWorkers, CrashesInARowGrowTheBackOff) {
  std::vector<std::int64_t> waited;
  for (core::WorkerId w = 1; w <= 3; ++w) {
    submit_to("a");
    std::int64_t ms = 0;
    while (!exec_->worker_ends.contains(-w)) {
      advance(milliseconds(100));
      ms += 100;
      ASSERT_LT(ms, 20'000);
    }
    waited.push_back(ms);
    EXPECT_EQ(next(w).type, WorkerCommand::Type::init);
    worker_exits(w, {.exit_code = 1});  // dies during its setup
  }
  EXPECT_EQ(waited[0], 0);
  EXPECT_GE(waited[1], 1000);
  EXPECT_GE(waited[2], 2000);
  EXPECT_LT(waited[1], 1200);
  EXPECT_LT(waited[2], 2200);
}

TEST_F(WarmWorkers, FatalAndBrokenLinesStopTheWorkerAndFailItsRun) {
  core::JobId j1 = submit_to("a");
  ready(1);
  next(1);
  say(1, "this is not json\n");
  EXPECT_TRUE(signalled(1, SIGKILL) || signalled(1, SIGTERM));
  worker_exits(1, {.signal = SIGKILL});
  EXPECT_EQ(job(j1).reason, EndReason::worker_crashed);
  EXPECT_NE(job(j1).error.find("not json"), std::string::npos) << job(j1).error;
}

TEST_F(WarmWorkers, AWorkerAnsweringForAnotherJobIsStopped) {
  core::JobId j1 = submit_to("a");
  ready(1);
  WorkerCommand r = next(1);
  say(1, exec::result_line(r.job + 1000, "{}"));
  EXPECT_TRUE(signalled(1, SIGKILL) || signalled(1, SIGTERM));
  worker_exits(1, {.signal = SIGKILL});
  EXPECT_NE(job(j1).error.find(
                fmt::format("it answered for job {} while serving job {}", r.job + 1000, r.job)),
            std::string::npos)
      << job(j1).error;
}

TEST_F(WarmWorkers, CancelAWorkersRunThatAnswersAndOneThatDoesNot) {
  core::JobId j1 = submit_to("a");
  ready(1);
  WorkerCommand r1 = next(1);
  EXPECT_EQ(run(o_->cancel(j1, Caller{}))->outcome, CancelOutcome::stopping);
  WorkerCommand c = next(1);
  EXPECT_EQ(c.type, WorkerCommand::Type::cancel);
  EXPECT_EQ(c.job, r1.job);
  say(1, exec::cancelled_line(r1.job));
  EXPECT_EQ(job(j1).state, JobState::cancelled);
  EXPECT_EQ(worker(1)->state, WorkerState::idle) << "it answered: it stays";
  core::JobId j2 = submit_to("a");
  next(1);
  run(o_->cancel(j2, Caller{}));
  EXPECT_EQ(next(1).type, WorkerCommand::Type::cancel);
  advance(seconds(11));  // no answer within the kill grace
  EXPECT_TRUE(signalled(1, SIGKILL));
  worker_exits(1, {.signal = SIGKILL});
  EXPECT_EQ(job(j2).state, JobState::cancelled);
}

TEST_F(WarmWorkers, ACancelWhileLoadingEndsTheJobAndKeepsTheLoad) {
  core::JobId j1 = submit_to("a");
  EXPECT_EQ(next(1).type, WorkerCommand::Type::init);
  run(o_->cancel(j1, Caller{}));
  EXPECT_EQ(job(j1).state, JobState::cancelled);
  say(1, exec::ready_line());
  EXPECT_EQ(worker(1)->state, WorkerState::idle) << "the load is kept for the next run";
  core::JobId j2 = submit_to("a");
  EXPECT_EQ(serve(1), j2);
}

TEST_F(WarmWorkers, ARunInFlightWhenTheServerDiedIsQueuedAgainOnceUnlessItsTaskOptsOut) {
  core::JobId ja = submit_to("a");
  ready(1);
  next(1);
  restart({});  // its worker went with the server
  core::Job again = job(ja);
  EXPECT_EQ(again.state, JobState::running) << "queued again and started on a new worker";
  EXPECT_TRUE(again.restart_requeued);
  restart({});
  core::Job twice = job(ja);
  EXPECT_EQ(twice.state, JobState::failed) << "only once";
  EXPECT_EQ(twice.reason, EndReason::interrupted);
  core::JobId jb = submit_to("b");  // requeue_on_restart = false
  ASSERT_FALSE(exec_->worker_ends.empty());
  restart({});
  EXPECT_EQ(job(jb).state, JobState::failed);
  EXPECT_EQ(job(jb).reason, EndReason::interrupted);
}

TEST_F(WarmWorkers, UnloadOnRequestRefusesABusyWorker) {
  core::JobId j = submit_to("a");
  ready(1);
  WorkerCommand r = next(1);
  EXPECT_EQ(o_->workers().unload(1), UnloadOutcome::busy);
  say(1, exec::result_line(r.job, "x"));
  EXPECT_EQ(job(j).state, JobState::succeeded);
  EXPECT_EQ(o_->workers().unload(1), UnloadOutcome::unloading);
  EXPECT_EQ(next(1).type, WorkerCommand::Type::shutdown);
  EXPECT_EQ(o_->workers().unload(99), UnloadOutcome::not_found);
}

TEST_F(WarmWorkers, AWorkersCrashQuotesTheEndOfItsRunsLog) {
  core::JobId j = submit_to("a");
  ready(1);
  next(1);  // the run: its stderr is now the job's log
  write_job_file(j, "stderr.log", "loading weights\nSegmentation fault in libfoo.so\n");
  worker_exits(1, {.signal = SIGSEGV});
  core::Job failed = job(j);
  EXPECT_EQ(failed.reason, EndReason::worker_crashed);
  EXPECT_NE(failed.error.find("its log ends: loading weights"), std::string::npos) << failed.error;
  EXPECT_NE(failed.error.find("Segmentation fault in libfoo.so"), std::string::npos);
}

TEST_F(WarmWorkers, ACrashWhoseLogShowsAnOutOfMemoryIsGpuOom) {
  core::JobId j = submit_to("a");
  ready(1);
  next(1);
  write_job_file(j, "stderr.log",
                 "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate\n");
  worker_exits(1, {.exit_code = 1});
  EXPECT_EQ(job(j).reason, EndReason::gpu_oom);
}

TEST_F(WarmWorkers, AResultIsTheRunsStdoutLogAndItsOutput) {
  core::JobId j = submit_to("a");
  ready(1);
  EXPECT_EQ(serve(1, "mesh.obj written"), j);
  core::Job done = job(j);
  EXPECT_EQ(done.state, JobState::succeeded);
  EXPECT_EQ(done.output, "mesh.obj written");
  std::ifstream log(job_dir(j) + "/stdout.log");
  std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "mesh.obj written");
}

TEST_F(WarmWorkers, AJobOnSeveralGpusIsRefusedForAWorkerTask) {
  SubmitRequest req{.task = "a", .gpus = 2};
  auto r = run(o_->submit(std::move(req)));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().field, "gpus");
  EXPECT_NE(r.error().detail.find("served by warm workers"), std::string::npos);
  EXPECT_TRUE(exec_->started.empty());
}

// Without readings to wake it: the end of a back-off itself lets the waiting run start.
class WarmWorkersNoPoll : public WarmWorkers {
 protected:
  void configure() override {
    WarmWorkers::configure();
    config_.gpu_poll_ms = 600'000;
  }
};

TEST_F(WarmWorkersNoPoll, TheEndOfABackOffStartsTheWaitingRun) {
  core::JobId j1 = submit_to("a");
  ready(1);
  next(1);
  worker_exits(1, {.signal = SIGKILL});
  EXPECT_EQ(job(j1).reason, EndReason::worker_crashed);
  core::JobId j2 = submit_to("a");
  EXPECT_EQ(pending(j2), core::PendingReason::worker_backoff);
  advance(milliseconds(1100));
  ASSERT_TRUE(exec_->worker_ends.contains(-2)) << "a new worker once the back-off is over";
  ready(2);
  EXPECT_EQ(serve(2), j2);
}

}  // namespace
}  // namespace vramq::service
