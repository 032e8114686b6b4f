#pragma once
// An Executor for unit tests of the orchestrator: nothing is spawned; the test sees what was
// started and ends runs when it likes (as the loop would deliver a real exit).

#include <sys/socket.h>

#include <cerrno>
#include <map>
#include <optional>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "exec/executor.hpp"

namespace vramq::testing {

class FakeExecutor final : public exec::Executor, public exec::StderrSwitch {
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
    exec::Launched launched{.pid = 100000 + static_cast<pid_t>(spec.job), .start_ticks = 1};
    if (spec.worker_stdio) {
      // A warm worker: the server gets one end of its stdin/stdout, the test the other.
      int fds[2] = {-1, -1};
      if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
        return exec::SpawnError{errno, "socketpair failed"};
      }
      launched.stdio_fd = fds[0];
      worker_ends[spec.job] = fds[1];
    }
    return launched;
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
    if (!run.ended) return;
    // As the real executors do: a run that has ended is reported once adopt() has returned.
    if (loop != nullptr) {
      boost::asio::post(*loop, [this, job = run.job, end = *run.ended] { exit_with(job, end); });
    } else {
      exit_with(run.job, *run.ended);
    }
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
  boost::asio::io_context* loop = nullptr;  // set: ends found at adoption are posted to it
  // Warm workers' far ends, by run key (the worker's id negated); the test owns and closes them.
  std::map<core::JobId, int> worker_ends;

 private:
  std::map<core::JobId, ExitHandler> running_;
  StateHandler state_handler_;
};

}  // namespace vramq::testing
