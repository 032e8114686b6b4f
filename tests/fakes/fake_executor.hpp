#pragma once
// An Executor for unit tests of the orchestrator: nothing is spawned; the test sees what was
// started and ends runs when it likes (as the loop would deliver a real exit).

#include <map>

#include "exec/executor.hpp"

namespace vramq::testing {

class FakeExecutor final : public exec::Executor {
 public:
  boost::system::result<exec::Launched, exec::SpawnError> start(const exec::LaunchSpec& spec,
                                                                ExitHandler on_exit) override {
    started.push_back(spec);
    running_[spec.job] = std::move(on_exit);
    return exec::Launched{.pid = 100000 + static_cast<pid_t>(spec.job), .start_ticks = 1};
  }
  void signal_group(core::JobId job, int sig) override { signals.emplace_back(job, sig); }
  std::size_t running() const override { return running_.size(); }

  // Ends a run as its process would: the orchestrator is told once.
  void exit(core::JobId job, int code) {
    auto h = std::move(running_.at(job));
    running_.erase(job);
    h(exec::ExitStatus{.exit_code = code, .signal = std::nullopt});
  }
  bool runs(core::JobId job) const { return running_.contains(job); }

  std::vector<exec::LaunchSpec> started;
  std::vector<std::pair<core::JobId, int>> signals;

 private:
  std::map<core::JobId, ExitHandler> running_;
};

}  // namespace vramq::testing
