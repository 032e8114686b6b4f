#pragma once
// An Executor for unit tests of the orchestrator: nothing is spawned; the test sees what was
// started and ends runs when it likes (as the loop would deliver a real exit).

#include <map>
#include <optional>

#include "exec/executor.hpp"

namespace vramq::testing {

class FakeExecutor final : public exec::Executor {
 public:
  boost::system::result<exec::Launched, exec::SpawnError> start(const exec::LaunchSpec& spec,
                                                                ExitHandler on_exit) override {
    if (fail_next) {
      exec::SpawnError e = *fail_next;
      fail_next.reset();
      return e;
    }
    started.push_back(spec);
    running_[spec.job] = std::move(on_exit);
    return exec::Launched{.pid = 100000 + static_cast<pid_t>(spec.job), .start_ticks = 1};
  }
  void signal_group(core::JobId job, int sig) override { signals.emplace_back(job, sig); }
  void redirect_stderr(core::JobId job, std::string_view path,
                       std::function<void()> done) override {
    redirects.emplace_back(job, std::string(path));
    if (done) done();
  }
  std::size_t running() const override { return running_.size(); }
  std::vector<exec::Survivor> survivors() override { return left_behind; }
  void adopt(const exec::Survivor& run, ExitHandler on_exit) override {
    adopted.push_back(run);
    running_[run.job] = std::move(on_exit);
    if (run.ended) exit_with(run.job, *run.ended);
  }
  void release(core::JobId job, int attempt) override { released.emplace_back(job, attempt); }
  // As a cluster's executor (cluster = true): started runs wait in its queue until the test
  // reports them running (report()).
  bool queues_runs() const override { return cluster; }
  void on_state(const StateHandler& handler) override { state_handler_ = handler; }
  void report(core::JobId job, exec::ClusterRunState state) { state_handler_(job, state); }
  // The next start fails with this (errno, message), once.
  std::optional<exec::SpawnError> fail_next;

  // Ends a run as its process would: the orchestrator is told once.
  void exit(core::JobId job, int code) { exit_with(job, exec::ExitStatus{.exit_code = code}); }
  void exit_with(core::JobId job, exec::ExitStatus status) {
    auto h = std::move(running_.at(job));
    running_.erase(job);
    h(std::move(status));
  }
  bool runs(core::JobId job) const { return running_.contains(job); }

  std::vector<exec::LaunchSpec> started;
  std::vector<std::pair<core::JobId, int>> signals;
  std::vector<std::pair<core::JobId, std::string>> redirects;
  std::vector<exec::Survivor> left_behind;  // what survivors() reports
  std::vector<exec::Survivor> adopted;
  std::vector<std::pair<core::JobId, int>> released;
  bool cluster = false;

 private:
  std::map<core::JobId, ExitHandler> running_;
  StateHandler state_handler_;
};

}  // namespace vramq::testing
