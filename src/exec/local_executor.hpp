#pragma once
// Runs jobs on this host, each under its own supervisor (vramq-supervise, exec/supervisor.hpp):
// the supervisor runs in its own session and is the job's parent, so a job outlives the server.
// It is forked by the supervisor launcher (exec/launcher_client.hpp), one exec per server start,
// or, when the launcher cannot, spawned (an exec per run, as before the launcher). The server
// holds the server holds a unix-socket connection to each supervisor, through which it relays
// signals and learns the job's pid and its end. At start-up, survivors() finds the supervisors an
// earlier server left (their flock()ed run files in the run directory) and adopt() re-attaches.
// Thread safety: loop only (survivors() blocks: start-up only; start() waits for the launcher's
// answer, and for up to 2 s more when it stalls: exec/launcher_client.hpp).

#include <boost/asio/any_io_executor.hpp>
#include <map>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "exec/executor.hpp"
#include "exec/launcher_client.hpp"
#include "util/unique_fd.hpp"

namespace vramq::exec {

struct LocalExecutorOptions {
  std::string run_dir;     // DATA_DIR/run: a file per run (lock and record)
  std::string supervisor;  // the vramq-supervise binary
  std::int64_t orphan_grace_ms = 60'000;
  std::int64_t kill_grace_ms = 10'000;
  std::int64_t log_limit_bytes = 0;  // each log file's cap (0: none); see SupervisorOptions
  int log_mode = 0600;               // job log files' permissions
  int job_umask = -1;                // jobs' umask (-1: the server's own)
};

class LocalExecutor final : public Executor, public StderrSwitch {
 public:
  // The run directory is created (0700) if missing.
  LocalExecutor(boost::asio::any_io_executor loop, LocalExecutorOptions options);
  // Closes the connections: the supervisors wait out their grace for the next server.
  ~LocalExecutor() override;
  boost::system::result<Launched, SpawnError> start(const LaunchSpec& spec,
                                                    ExitHandler on_exit) override;
  void signal_group(core::JobId job, int sig) override;
  void redirect_stderr(core::JobId job, std::string_view path, std::function<void()> done) override;
  std::size_t running() const override { return runs_.size(); }
  std::vector<Survivor> survivors() override;
  void adopt(const Survivor& run, ExitHandler on_exit) override;
  void release(core::JobId job, int attempt) override;
  std::vector<std::pair<std::string, std::uint64_t>> starts() const override;

 private:
  struct Run;
  struct Sockets;
  struct Started {
    pid_t pid = 0;
    util::UniqueFd attach;
    util::UniqueFd stdio;
  };
  boost::system::result<Sockets, SpawnError> sockets(bool worker) const;
  // The run's supervisor, forked by the launcher or else spawned, given `lock` (its run file,
  // slot `slot`) and `args` (its command line).
  boost::system::result<Started, SpawnError> start_supervisor(const LaunchSpec& spec,
                                                              const std::vector<std::string>& args,
                                                              int lock, int slot);
  std::optional<pid_t> forked_anyway(Sockets& s, int slot, const LaunchSpec& spec);
  using RunKey = std::pair<core::JobId, int>;  // job, attempt
  // A free slot and its locked fd; nullopt when none can be had. Its content is left as it is:
  // the previous run's record until the new supervisor writes its own (the lock says whose).
  std::optional<std::pair<int, int>> take_slot();
  void read_records(core::JobId job);
  void on_record(core::JobId job, std::string_view text);
  void on_disconnect(core::JobId job);
  void deliver(core::JobId job, ExitStatus status);
  std::string slot_path(int slot) const;

  boost::asio::any_io_executor loop_;
  LocalExecutorOptions options_;
  // Shared with the pending read of each run's connection, which uses its buffer until it
  // completes (also after the run is gone from here: then it completes as aborted).
  std::map<core::JobId, std::shared_ptr<Run>> runs_;
  // Connections made by survivors() for adopt() to take over.
  std::map<core::JobId, int> found_;
  // The slot each run occupies until it is released (live runs and survivors alike), and the
  // slots free for the next runs; slot files are slot-0 .. slot-(slots_ - 1).
  std::map<RunKey, int> slot_of_;
  std::vector<int> free_slots_;
  int slots_ = 0;
  LauncherClient launcher_;
  std::uint64_t spawned_ = 0;            // supervisors spawned (the launcher could not fork them)
  std::uint64_t forked_unanswered_ = 0;  // forked by a launcher that died before its answer
};

}  // namespace vramq::exec
