#pragma once
// Runs jobs as children of the server: posix_spawn (execve of an argv, never a shell) into a new
// process group, stdout/stderr to files, exit awaited on the event loop through a pidfd.
// Thread safety: loop only.

#include <boost/asio/any_io_executor.hpp>
#include <map>
#include <memory>

#include "exec/executor.hpp"

namespace vramq::exec {

class LocalExecutor final : public Executor {
 public:
  explicit LocalExecutor(boost::asio::any_io_executor loop);
  ~LocalExecutor() override;
  boost::system::result<Launched, SpawnError> start(const LaunchSpec& spec,
                                                    ExitHandler on_exit) override;
  void signal_group(core::JobId job, int sig) override;
  std::size_t running() const override { return children_.size(); }

 private:
  struct Child;
  void watch(core::JobId job);

  boost::asio::any_io_executor loop_;
  std::map<core::JobId, std::unique_ptr<Child>> children_;
};

}  // namespace vramq::exec
