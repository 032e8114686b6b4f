#pragma once
// The orchestrator wires store, scheduler, executor and GPU source together on the event loop.
// It owns all scheduling state: the queue, the running jobs, the latest GPU sample. On every
// event (submit, exit, GPU reading, timer) it runs a scheduling pass over its JobQueue (the
// planner of core::plan(), stopped once nothing more can start), re-checks each start against
// the newest reading, and applies it. It is the only writer of
// job state, and it persists every change through the store.
// Thread safety: loop only. Other threads reach it through asio::post.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/footprints.hpp"
#include "core/job.hpp"
#include "core/job_queue.hpp"
#include "core/parked_jobs.hpp"
#include "core/run_times.hpp"
#include "core/scheduler.hpp"
#include "core/start_prediction.hpp"
#include "core/task_catalog.hpp"
#include "core/vram_guard.hpp"
#include "core/worker_eviction.hpp"
#include "exec/executor.hpp"
#include "gpu/gpu_source.hpp"
#include "service/event_feed.hpp"
#include "service/gpu_readings.hpp"
#include "service/idempotency_keys.hpp"
#include "service/job_files.hpp"
#include "service/job_inputs.hpp"
#include "service/job_request.hpp"
#include "service/job_waiters.hpp"
#include "service/owner_book.hpp"
#include "service/process_runs.hpp"
#include "service/queue_events.hpp"
#include "service/reclaimer.hpp"
#include "service/retention.hpp"
#include "service/run_kind.hpp"
#include "service/service_clock.hpp"
#include "service/service_metrics.hpp"
#include "service/views.hpp"
#include "service/waiting_jobs.hpp"
#include "service/warm_workers.hpp"
#include "store/store.hpp"
#include "util/confined_files.hpp"
#include "util/worker.hpp"

namespace vramq::service {

enum class CancelOutcome {
  cancelled,      // it was queued and has ended now
  stopping,       // it runs: SIGTERM sent to its group, SIGKILL after the grace
  already_ended,  // terminal before the request
  not_found,
  forbidden,  // it belongs to someone else, and the caller is no admin
};

// Who asks to act on a job: its owner, or an admin, may cancel or purge it.
struct Caller {
  std::string name;  // "" when no tokens are configured (then anyone may)
  bool admin = true;
  bool may_act_on(const core::Job& job) const { return admin || job.spec.owner == name; }
};

enum class PurgeOutcome { purged, active, not_found, forbidden };

struct PurgeResult {
  PurgeOutcome outcome = PurgeOutcome::not_found;
  std::optional<JobView> job;  // forbidden: the job, to name its owner
};

struct CancelResult {
  CancelOutcome outcome = CancelOutcome::not_found;
  std::optional<JobView> job;
};

// Which jobs a listing shows: those in `states`, and with the name, owner and label given.
struct ListFilter {
  std::vector<core::JobState> states;
  std::string name;   // "": any
  std::string owner;  // "": any
  std::optional<std::pair<std::string, std::string>> label;
};

struct ListResult {
  std::vector<JobView> jobs;        // newest first
  std::optional<core::JobId> next;  // pass as `before` for the next page
};

// What would happen to a submission now (POST /v1/jobs?dry_run=1); nothing is stored.
struct DryRun {
  std::int64_t vram_mb = 0;                      // the reservation it would get
  std::optional<core::StartDecision> start;      // set: it would start now
  std::optional<core::PendingDecision> pending;  // else: where and why it would wait
  // When it would probably start (0: cannot be foreseen): simulated from the running jobs'
  // expected ends and the jobs ahead (core::predict_start_ms).
  std::int64_t predicted_start_ms = 0;
};

// How the service stands: what /readyz and /metrics report.
struct ServiceHealth {
  bool draining = false;
  std::string gpu_error;  // non-empty: the last GPU reading failed
  std::string gpu_kind;   // sim, nvml, slurm
  store::Store::Health store;
  core::Histogram store_commit_seconds;
  std::size_t queued = 0;
  std::size_t waiting = 0;  // queued, but waiting for other jobs or a retry delay
  std::size_t running = 0;  // running now (not those waiting in a cluster's queue)
  // Runs started by the executor, by how their process started (exec::Executor::starts).
  std::vector<std::pair<std::string, std::uint64_t>> starts;
  bool ready() const {
    return !draining && gpu_error.empty() && store.fault == store::StoreFault::none;
  }
};

class Orchestrator : private RunHost {
 public:
  Orchestrator(boost::asio::io_context& ioc, core::Config config, core::TaskCatalog catalog,
               std::unique_ptr<gpu::GpuSource> gpus, std::unique_ptr<exec::Executor> executor,
               std::unique_ptr<store::Store> store);
  // Joins the upload thread: an upload's staged files may outlive this (a coroutine frame holds
  // them), its thread must not post into a loop that is being torn down.
  ~Orchestrator();

  // Start-up, before the loop runs (blocking): the first GPU reading, then recovery of the
  // store: queued jobs queue again in order; jobs that were running have their leftover process
  // group killed and end `failed`/`interrupted`, or queue again while retries remain.
  core::Result<void> start();

  boost::asio::awaitable<boost::system::result<JobView, SubmitError>> submit(SubmitRequest req);
  // The job now, or nullopt if there is no such job.
  boost::asio::awaitable<core::Result<std::optional<JobView>>> get(core::JobId id);
  // Like get(), but first waits up to `wait` for the job to become terminal. No polling: the
  // waiter sleeps on a timer that the job's end cancels.
  boost::asio::awaitable<core::Result<std::optional<JobView>>> wait(core::JobId id,
                                                                    std::chrono::milliseconds wait);

  boost::asio::awaitable<core::Result<CancelResult>> cancel(core::JobId id, Caller caller);
  // Removes an ended job's record and files (job_removal.cpp). Live jobs: PurgeOutcome::active.
  boost::asio::awaitable<core::Result<PurgeResult>> purge(core::JobId id, Caller caller);

  // Validates like submit() and plans with the job added to the current queue; changes nothing.
  boost::system::result<DryRun, SubmitError> dry_run(SubmitRequest req);

  // Jobs in `states` with id < before (0: no bound), newest first, at most `limit`. Live jobs
  // come from memory, ended ones from the store (without `output`).
  boost::asio::awaitable<core::Result<ListResult>> list(ListFilter filter, core::JobId before,
                                                        int limit);

  // The attempt a live job is on (nullopt once it has ended and left memory).
  std::optional<int> attempt_of(core::JobId id) const;
  // True once the job is terminal (or unknown): no more log will come.
  bool ended(core::JobId id) const {
    return !active_.contains(id) && !queue_.contains(id) && !waiting_.parked().contains(id);
  }

  // A job's directory: its logs, its files, log followers (job_files.hpp).
  JobFiles& files() { return files_; }
  // Files uploaded with jobs (job_inputs.hpp): the API stages them before a submit.
  JobInputs& inputs() { return *inputs_; }
  // Warm workers: their statuses, and unload() of an idle one (DELETE /v1/workers/{id}).
  WarmWorkers& workers() { return *workers_; }
  const WarmWorkers& workers() const { return *workers_; }

  std::vector<GpuStatus> gpus() const;
  // GET /v1/events (live_events.cpp publishes into it). The API layer gives it its encoders
  // once start() is done: recovery publishes nothing.
  EventFeed& events() { return feed_; }
  const EventFeed& events() const { return feed_; }
  // GET /metrics: what it has counted since the start, and the store's commit times.
  const ServiceMetrics& metrics() const { return metrics_; }
  // Each owner's running jobs now (GET /metrics): what they reserve (MiB x GPUs), the part
  // borrowed above its guarantee, and its quota_mb (nullopt: none). Owners in the owners file
  // and owners with running jobs.
  struct OwnerUse {
    std::int64_t reserved_mb = 0;
    std::int64_t borrowed_mb = 0;
    std::optional<std::int64_t> quota_mb;
    std::int64_t running = 0;
    std::int64_t queued = 0;  // waiting: queued or parked (dependencies, retry delays)
  };
  std::map<std::string, OwnerUse> owner_use() const;
  // The first jobs of the queue in the order they would start (GET /v1/queue, `queue` events).
  QueueHead queue_head() const;
  const core::TaskCatalog& catalog() const { return catalog_; }
  // Who may submit what (owners, their limits), reloaded on SIGHUP by the caller.
  OwnerBook& owners() { return owners_; }
  const core::Footprints& footprints() const { return footprints_; }
  const core::Config& config() const { return config_; }
  // Usage rows (GET /v1/usage), from the store's reader.
  boost::asio::awaitable<core::Result<std::vector<store::UsageRow>>> usage(store::UsageQuery q) {
    return store_->usage(std::move(q));
  }
  // How the service stands (GET /readyz, /metrics).
  ServiceHealth health() const;

  // Whether no blocking work (a GPU reading, a file read) is out on its threads: with nothing
  // ready on the loop either, nothing will change until an event comes.
  bool quiet() const { return !readings_->busy() && !files_.busy(); }

  // Graceful stop: start nothing more, SIGTERM running jobs, SIGKILL them after the grace;
  // they end `interrupted` (or queue again for the next start when retries remain).
  boost::asio::awaitable<void> drain();

 private:
  // The job `req` asks for as job `id`, or why it is refused: invalid, no kind of run could run
  // it, draining, the store at fault, or the queue full and it could not start at once.
  boost::system::result<core::Job, SubmitError> admit(SubmitRequest& req, core::JobId id) const;
  boost::asio::awaitable<boost::system::result<JobView, SubmitError>> submit_new(SubmitRequest req);
  // When the last job of `queue` (the jobs ahead of it, then itself) would probably start.
  std::optional<std::int64_t> predict_start(std::span<const core::PredictionQueued> queue) const;
  JobView view(const core::Job& job) const;
  std::vector<core::GpuView> gpu_views() const;
  // The GPU `job` would start on now, if that is certain without a pass (see admitting_).
  std::vector<int> start_gpus_now(const core::Job& job) const;

  // RunHost (run_kind.hpp): what the kinds of run ask of the orchestrator (running_jobs.cpp).
  core::Job& job_of(core::JobId id) override { return active_.at(id); }
  Run* run_of(core::JobId id) override;
  // A host error (core::is_host_error): the job goes back to the queue as it was (no attempt
  // used up) after a back-off (start_failures.cpp); else it fails spawn_failed.
  void start_failed(core::JobId id, std::string why, int errno_value,
                    std::optional<int> ran_attempt) override;
  void end_run(core::JobId id, RunEnd end) override;  // run_end.cpp
  void run_started(core::JobId id, std::vector<int> gpus, std::int64_t started_at_ms) override;
  void changed(core::JobId id) override { publish_job(active_.at(id)); }
  void schedule_soon() override;

  // The kind that runs `job`: its task's warm workers, else the executor's (processes or a
  // cluster).
  RunKind& kind_for(const core::Job& job) const;
  void schedule();
  // Before a pass (reclaiming.cpp): starts a claimant whose reclaimed room is free, keeps a
  // claim's room out of `views`, or makes a new claim and stops its victims.
  void reclaim(std::vector<core::GpuView>& views, const core::QuotaView& quotas);
  // Starts `queued` on `gpus` (none: where its kind decides), on idle worker `worker` if the
  // pass chose one.
  void launch(core::Job queued, std::vector<int> gpus, core::WorkerId worker);
  // The end of a run's stdout, as the job object keeps it.
  struct Output {
    std::string text;
    bool truncated = false;  // stdout was longer than the text
  };
  // `ran_attempt`: the executor's run that ended (released once the new state is stored).
  void finish(core::JobId id, core::JobState state, core::EndReason reason, std::string error,
              Output output, std::optional<int> ran_attempt = std::nullopt);
  // A run ended: its use added to the usage ledger (store/usage_table.hpp).
  void record_usage(core::JobId id, Run& r, bool preempted);
  // Recovery (recovery.cpp): a run the last server left, taken over as if started here.
  void adopt(core::Job job, exec::Survivor run);
  void stop_job(core::JobId id, core::EndReason why);
  void enqueue(const core::Job& job);
  std::optional<core::Job> queued_job(core::JobId id) const;  // unpacked from the queue

  // Live events (live_events.cpp): a job's new state, the head of the queue after a pass (at
  // most every kQueueEventMs), and what a GPU reading changed (GPUs, workers, jobs' use).
  void publish_job(const core::Job& job);
  void publish_readings();
  // Progress of running jobs (job_progress.cpp): their stderr and progress files are read off
  // the loop at each poll when they have grown; a change is published with the job.
  void read_progress();
  // A GPU reading came (running_jobs.cpp): the runs' use, enforcement, idle workers' use,
  // events, a pass.
  void on_reading();

  boost::asio::io_context& ioc_;
  core::Config config_;
  core::TaskCatalog catalog_;
  std::unique_ptr<store::Store> store_;

  core::JobId next_id_ = 1;
  // Running jobs (and, for the length of one call, a queued job being started or ended). Queued
  // jobs live packed in queue_ only.
  std::map<core::JobId, core::Job> active_;
  // Ends under way: runs whose output is still being read off the loop (the door), and jobs that
  // ended but whose final row is not yet durable (reads are served from here so that a reader
  // never sees the older row; erased by the save's completion).
  struct Ending {
    std::int64_t reading = 0;
    std::map<core::JobId, core::Job> settling;
  } ending_;
  core::JobQueue queue_;  // queued jobs, with their places and reasons from the last pass
  WaitingJobs waiting_;   // queued jobs that may not start yet (dependencies, delays)
  std::map<core::JobId, Run> running_;  // their kinds' runs, by job
  // Submissions accepted but not yet durable (they count toward the queue cap), and per GPU the
  // reservations of jobs admitted past a full queue because they start at once, from admission
  // until the pass after their save (then they run, or wait like any queued job).
  struct Admitting {
    std::int64_t saving = 0;
    std::map<std::uint32_t, std::int64_t> saving_by_owner;  // OwnerBook numbers
    std::vector<std::int64_t> mb;
  } admitting_;
  OwnerBook owners_;
  Reclaimer reclaimer_{config_.preempt_grace_s * 1000};  // borrowed VRAM taken back
  IdempotencyKeys keys_;      // Idempotency-Keys being handled, and their expiry
  JobWaiters waiters_{ioc_};  // clients waiting for a job's end

  std::unique_ptr<GpuReadings> readings_;  // the GPUs as last read, and memory departed
  core::Footprints footprints_;  // learned from finished runs, loaded from the store at start
  EventFeed feed_;
  ServiceMetrics metrics_;
  QueueEvents queue_events_{ioc_, feed_, [this] { return queue_head(); }};
  bool schedule_posted_ = false;
  bool draining_ = false;
  core::RunTimes run_times_;  // learned from ended runs: predictions and Retry-After
  // The kinds of run: the executor's (processes, or a cluster's runs) and warm workers. Made
  // once the state they refer to is.
  std::unique_ptr<ProcessRuns> runs_;
  std::unique_ptr<WarmWorkers> workers_;
  JobFiles files_;                                       // job directories, and the file thread
  std::shared_ptr<JobInputs> inputs_;                    // uploaded files, and the upload thread
  Retention retention_{ioc_, config_, *store_, files_};  // ended jobs removed
};

}  // namespace vramq::service
