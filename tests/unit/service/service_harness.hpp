#pragma once
// The service layer under test without SQLite, processes or GPUs: an Orchestrator on a real
// event loop with the in-memory store, simulated GPUs and a fake executor whose runs the test
// starts, reports and ends. settle() runs the loop until nothing more is ready, so that a test
// takes milliseconds. A test file derives its fixture and sets config_, catalog_ or the fake
// executor's kind in configure() before the server boots.

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <fstream>
#include <thread>

#include "../../fakes/fake_executor.hpp"
#include "gpu/sim_gpu_source.hpp"
#include "service/orchestrator.hpp"
#include "store/memory_store.hpp"
#include "temp_dir.hpp"

namespace vramq::service::testing {

// `run`: a plain job whose reservation is its `mb` parameter.
inline constexpr std::string_view kRunCatalog = R"(
[tasks.run]
argv = ["/bin/true", "{mb}"]
[tasks.run.params]
mb = { type = "int", min = 0, max = 100000, default = 1000 }
[tasks.run.vram]
base_mb = 0
per_unit_mb = 1
unit = "mb"
)";

class ServiceTest : public ::testing::Test {
 protected:
  // Changes the server's settings before it boots.
  virtual void configure() {}

  void SetUp() override {
    config_.data_dir = dir_.path().string();
    config_.gpu_poll_ms = 10'000;  // readings only when the test's events ask for them
    configure();
    boot({}, std::make_unique<store::MemoryStore>(ioc_.get_executor()));
  }
  void TearDown() override {
    o_.reset();
    ioc_.restart();
    ioc_.poll();
  }

  // A server whose executor reports `left_behind` at start-up, on `store`.
  void boot(std::vector<exec::Survivor> left_behind, std::unique_ptr<store::MemoryStore> store) {
    auto catalog = core::TaskCatalog::parse(catalog_, "/bin");
    ASSERT_TRUE(catalog) << catalog.error().message;
    auto executor = std::make_unique<vramq::testing::FakeExecutor>();
    executor->left_behind = std::move(left_behind);
    executor->cluster = cluster_;
    executor->loop = &ioc_;
    exec_ = executor.get();
    store_ = store.get();
    o_ = std::make_unique<Orchestrator>(ioc_, config_, std::move(*catalog),
                                        std::make_unique<gpu::SimGpuSource>(gpus_mb_),
                                        std::move(executor), std::move(store));
    ASSERT_TRUE(o_->start());
    settle();
  }
  // The server goes away (as after kill -9: nothing more is stored) and the next one starts on
  // what the store holds.
  void restart(std::vector<exec::Survivor> left_behind) {
    std::unique_ptr<store::MemoryStore> stored = store_->reopen(ioc_.get_executor());
    o_.reset();
    ioc_.restart();
    ioc_.poll();
    boot(std::move(left_behind), std::move(stored));
  }

  // Runs the loop until nothing more is ready: no handler ran and no reading or file read is
  // out on the orchestrator's threads (their completions come back to the loop).
  void settle() {
    for (int quiet = 0; quiet < 2;) {
      ioc_.restart();
      if (ioc_.poll() > 0 || (o_ && !o_->quiet())) {
        quiet = 0;
        std::this_thread::yield();
        continue;
      }
      ++quiet;
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
  }
  // Runs the loop until `done()` holds (a timer's or a thread's work), at most `limit`.
  template <class Pred>
  bool until(Pred done, std::chrono::milliseconds limit = std::chrono::milliseconds(3000)) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      ioc_.restart();
      if (ioc_.poll() == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    settle();
    return true;
  }
  // Time passes by `d` at once (service/service_clock.hpp): timeouts, delays, back-offs and
  // keep-alives due by then fire.
  void advance(std::chrono::milliseconds d) {
    ServiceClock::advance(d);
    // A timer due before every other makes the loop look at its timer queue again (asio
    // re-arms its timerfd only for a new earliest timer), where the others are now due too.
    ServiceTimer kick(ioc_, ServiceClock::time_point{});
    kick.async_wait([](const boost::system::error_code&) {});
    settle();
  }
  template <class T>
  T run(boost::asio::awaitable<T> a) {
    auto f = boost::asio::co_spawn(ioc_, std::move(a), boost::asio::use_future);
    while (f.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
      ioc_.restart();
      if (ioc_.poll() == 0) std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    settle();
    return f.get();
  }

  SubmitRequest request(std::int64_t mb) {
    return SubmitRequest{.task = "run", .params = {{"mb", core::ParamInput{mb}}}};
  }
  core::JobId submit(SubmitRequest req) {
    auto r = run(o_->submit(std::move(req)));
    EXPECT_TRUE(r) << (r ? "" : r.error().detail);
    return r ? r->job.id : 0;
  }
  core::JobId submit(std::int64_t mb, std::vector<core::JobId> after_ok = {}) {
    SubmitRequest req = request(mb);
    req.after_ok = std::move(after_ok);
    return submit(std::move(req));
  }
  core::Job job(core::JobId id) {
    auto r = run(o_->get(id));
    EXPECT_TRUE(r && *r) << "no job " << id;
    return r && *r ? (*r)->job : core::Job{};
  }
  std::string job_dir(core::JobId id) const {
    return (dir_.path() / "jobs" / std::to_string(id)).string();
  }
  // What a job left in one of its files (its stderr log, its simulated VRAM report).
  void write_job_file(core::JobId id, const std::string& name, const std::string& text) {
    std::ofstream(job_dir(id) + "/" + name, std::ios::trunc) << text;
  }
  // Whether the job's latest run was started with `kv` in its environment.
  bool env_has(core::JobId id, const std::string& kv) const {
    for (auto s = exec_->started.rbegin(); s != exec_->started.rend(); ++s) {
      if (s->job == id) return std::ranges::find(s->env, kv) != s->env.end();
    }
    return false;
  }

  core::Config config_;
  std::string catalog_{kRunCatalog};
  std::vector<std::int64_t> gpus_mb_{24576};
  bool cluster_ = false;
  boost::asio::io_context ioc_;
  vramq::testing::TempDir dir_;
  vramq::testing::FakeExecutor* exec_ = nullptr;
  store::MemoryStore* store_ = nullptr;  // owned by o_
  std::unique_ptr<Orchestrator> o_;
};

}  // namespace vramq::service::testing
