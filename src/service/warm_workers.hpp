#pragma once
// Warm workers (issue 12, docs/workers.md): a task with a [worker] section has its runs served by
// long-lived processes that load the model once. A worker is started for a run that found no
// idle one (`starting`, bound to that run), serves it once `ready` (`busy`), then waits for the
// next run of its task (`idle`, pinged, unloaded after keep_alive_s), and is unloaded
// (`unloading`: `shutdown`, then SIGTERM and SIGKILL) when idle too long, when the scheduler
// needs its memory for another job (core::Planner::make_room), on DELETE, or when the server
// stops. Its memory is in the ledger all along: through its run while it serves one (the run's
// reservation_mb() is all the worker holds), as its own (held_mb, add_held()) otherwise; it
// counts as released only once its processes are gone (GpuReadings::departed).
// A worker that dies, breaks the protocol or hangs fails the run it served (worker_crashed) and
// makes its task wait a back-off before the next worker (worker_backoff).
// As a kind of run (RunKind) it runs jobs; as a pool it answers the pass (view(), evict()), the
// ledger and the API. Starting, serving and losing workers: warm_workers.cpp; idle workers,
// unloading and the status views: idle_workers.cpp. Loop only.

#include <boost/asio/io_context.hpp>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/task_catalog.hpp"
#include "core/worker_eviction.hpp"
#include "service/event_feed.hpp"
#include "service/gpu_readings.hpp"
#include "service/run_kind.hpp"
#include "service/service_metrics.hpp"
#include "service/worker_channel.hpp"

namespace vramq::service {

class WarmWorkers : public RunKind {
 public:
  struct Deps {
    boost::asio::io_context& ioc;
    RunHost& host;
    exec::Executor& executor;
    exec::StderrSwitch* stderr_switch;  // a run's stderr goes to its log (null: no workers here)
    const core::Config& config;
    const core::TaskCatalog& catalog;
    ServiceMetrics& metrics;
    EventFeed& feed;
    std::string root;  // DATA_DIR/workers, absolute: a directory per worker
    // This host's GPUs: their sizes say what could ever run; a worker's memory stays counted
    // there (departed) once it has gone; simulated, a worker reports its use in a file.
    GpuReadings& readings;
    // Why no worker can run here ("": they can): this server sends its jobs to a cluster.
    std::string unavailable;
  };
  explicit WarmWorkers(Deps deps);

  // The catalog task `spec` runs on workers (nullptr: none), and its index among them (-1).
  const core::TaskDef* task_of(const core::JobSpec& spec) const;
  int task_index(const core::JobSpec& spec) const;
  bool serves(const core::JobSpec& spec) const { return task_of(spec) != nullptr; }
  // A job on several GPUs (a worker has one), or any job where workers cannot run, or what the
  // host's GPUs could never hold.
  std::optional<Refusal> refuses(const core::Job& job) const override;
  bool placed_by_ledger() const override { return false; }
  std::optional<std::int64_t> start_need_mb(const core::Job& job,
                                            core::WorkerId worker) const override;
  // A run of a worker task that was lost with the last server is queued again once (unless its
  // task says requeue_on_restart = false).
  bool requeues_on_restart(const core::Job& job) const;
  // Start-up: new ids after `max_stored`; the last server's workers ended with it (their
  // directories go).
  void start(core::WorkerId max_stored);

  // RunKind: a run on an idle worker the pass chose (where.worker), or on a new one.
  std::optional<exec::Launched> start(core::Job& job, const Placement& where) override;
  std::int64_t reservation_mb(const core::Job& job) const override;
  void started(core::JobId id) override;
  void stop(core::JobId id, Run& r) override;
  gpu::JobProbe probe(core::JobId id, const Run& r) const override;
  void measured(core::JobId id, std::int64_t mb) override;
  void adopt(core::JobId id, exec::Survivor& run) override;  // never: they end with the server

  // For the pass: tasks, residents, idle workers and memory on its way out.
  core::WorkerView view(std::size_t gpu_count) const;
  bool any() const { return !workers_.empty() || !tasks_.empty(); }
  // The pass chose these idle workers to make room: unloaded now.
  void evict(const std::vector<core::WorkerId>& ids);
  // What a warm start on `id` needs on top of what it holds (nullopt: no longer idle).
  std::optional<std::int64_t> idle_held_mb(core::WorkerId id) const;
  // The ledger: what workers without a run hold, per GPU.
  void add_held(std::vector<core::GpuView>& views) const;
  std::vector<core::WorkerId> on_gpu(int gpu) const;
  // Readings: workers without a run are measured by their id negated (job ids are positive).
  void add_probes(std::vector<gpu::JobProbe>& probes) const;
  void on_reading(const gpu::GpuSample& sample);

  std::vector<WorkerStatus> statuses() const;
  UnloadOutcome unload(core::WorkerId id);
  void release_on_drain();  // idle ones are unloaded
  bool unloading() const;   // some are on their way out

 private:
  // A worker. Its process runs under a supervisor like a job's run, keyed in the executor by
  // its id negated. While starting or busy it serves one job, whose Run carries the worker's
  // memory in the ledger; idle or unloading, it carries its own (held_mb, or more when a reading
  // shows more).
  struct Worker {
    core::WorkerId id = 0;
    std::string task;
    int task_index = 0;  // in tasks_
    int gpu = 0;
    std::int64_t uid = -1;  // the user it runs as (-1: vramq's own): it serves only its jobs
    core::WorkerState state = core::WorkerState::starting;
    std::int64_t pid = 0;  // its supervisor
    std::int64_t pid_start_ticks = 0;
    std::string dir;  // root/ID: its own log (stderr between runs), its sim file
    std::unique_ptr<WorkerChannel> channel;
    core::JobId job = 0;    // starting or busy: the run it serves
    bool run_sent = false;  // busy: its `run` line is sent (after its log was switched)
    std::int64_t held_mb = 0;
    std::optional<std::int64_t> measured_mb;  // its use in the last reading
    std::int64_t peak_mb = 0;
    std::int64_t runs = 0;
    std::int64_t started_at_ms = 0;
    std::int64_t last_used_ms = 0;  // its last run's end, or when it became ready
    std::string unload_reason;
    std::string failure;    // why it was killed (it broke the protocol or hung): its run's error
    bool abnormal = false;  // it broke, hung or closed its stdout: its exit counts as a crash
    std::uint64_t pings_sent = 0;
    std::uint64_t last_pong = 0;
    std::unique_ptr<ServiceTimer> timer;  // setup deadline, keep-alive or kill
    std::unique_ptr<ServiceTimer> ping_timer;
  };
  // Per worker task: crashes in a row, for the back-off before its next worker.
  struct TaskHealth {
    int crashes = 0;
    std::int64_t not_before_ms = 0;
    std::unique_ptr<ServiceTimer> over;  // a pass when the back-off ends: its runs may start
  };
  Worker* find(core::WorkerId id);
  Worker* launch(core::Job& job, int gpu, const Placement& where);
  void begin_run(Worker& w);
  void send_run(core::WorkerId wid, core::JobId id);
  void on_message(core::WorkerId id, const exec::WorkerMessage& m);
  void on_answer(Worker& w, const exec::WorkerMessage& m);
  // Job `id`'s run on worker `w` ended (an answer or a stop; the worker goes idle), or its
  // worker died (`w` null): through the door.
  void end_run(core::JobId id, Worker* w, core::RunOutcome outcome, std::string result);
  void on_exit(core::WorkerId id, const exec::ExitStatus& status);
  void broken(core::WorkerId id, std::string why);        // kills it; its run fails
  void channel_lost(core::WorkerId id, std::string why);  // broken, or only closed (dying)
  void unload(Worker& w, std::string why);
  void arm_idle(Worker& w);          // keep-alive and pings while idle
  void arm_ping(core::WorkerId id);  // the next ping; one unanswered by the next: broken
  void ping(core::WorkerId id);
  WorkerStatus status(const Worker& w) const;

  Deps d_;
  std::map<core::WorkerId, Worker> workers_;
  core::WorkerId next_id_ = 1;
  std::vector<std::string> tasks_;  // names of the catalog's worker tasks (sorted)
  std::vector<TaskHealth> health_;  // by index in tasks_
};

}  // namespace vramq::service
