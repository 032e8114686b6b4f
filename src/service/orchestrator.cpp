// Orchestrator: the core of the loop's state. Construction, reads of jobs (get, wait, views, GPU
// status), cancel, logs, the scheduling pass and its re-check, the poll timer, and the drain at
// shutdown. Its other seams have their own files: admission.cpp (submit, idempotency, dry runs),
// running_jobs.cpp (launch, GPU readings, VRAM enforcement, stop, exit), recovery.cpp (start-up
// and adoption), waiting_jobs.cpp (dependencies and retry delays), job_listing.cpp,
// job_removal.cpp, job_files.cpp.
#include "service/orchestrator.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <filesystem>

#include "core/job_record.hpp"
#include "service/cluster_runs.hpp"
#include "service/job_paths.hpp"
#include "util/untrusted_files.hpp"

namespace vramq::service {
namespace asio = boost::asio;
using core::EndReason;
using core::Job;
using core::JobId;
using core::JobState;

namespace {

// Event ids begin at the start's time in microseconds: above any id an earlier server could
// have given unless it published more than a million events a second for its whole life (and
// below 2^53, so that JavaScript reads them exactly).
std::uint64_t first_event_id() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

// Whether `caller` may cancel `job` (a refusal is logged).
bool may_act(const Caller& caller, const Job& job) {
  if (caller.may_act_on(job)) return true;
  spdlog::warn("job {}: cancel by {} refused: it belongs to {}", job.id, caller.name,
               job.spec.owner.empty() ? "nobody" : job.spec.owner);
  return false;
}

}  // namespace

Orchestrator::Orchestrator(asio::io_context& ioc, core::Config config, core::TaskCatalog catalog,
                           std::unique_ptr<gpu::GpuSource> gpus,
                           std::unique_ptr<exec::Executor> executor,
                           std::unique_ptr<store::Store> store)
    : ioc_(ioc),
      config_(std::move(config)),
      catalog_(std::move(catalog)),
      store_(std::move(store)),
      waiting_({.ioc = ioc,
                .store = *store_,
                .ended = [this](JobId id) { return ended(id); },
                .settling = [this](JobId id) -> std::optional<JobState> {
                  auto s = ending_.settling.find(id);
                  if (s == ending_.settling.end()) return std::nullopt;
                  return s->second.state;
                },
                .enqueue = [this](const Job& job) { enqueue(job); },
                .fail =
                    [this](JobId id, std::string why) {
                      finish(id, JobState::cancelled, EndReason::dependency_failed, std::move(why),
                             {});
                    },
                .publish = [this](const Job& job) { publish_job(job); },
                .owner_id = [this](const std::string& owner) { return owners_.id(owner); }}),
      feed_(ioc, static_cast<std::size_t>(config_.event_ring_size),
            static_cast<std::size_t>(config_.event_ring_mb) << 20, first_event_id()),
      files_(ioc, config_.data_dir, config_.log_follow == "inotify"),
      inputs_(std::make_shared<JobInputs>(ioc, config_.data_dir)) {
  footprints_ = core::Footprints({.tolerance = config_.vram_tolerance});
  owners_.use_fair_share(config_.fairshare_half_life_s * 1000);
  // A reading measures every run (as its kind says) and the workers without a run.
  auto probes = [this] {
    std::vector<gpu::JobProbe> probes;
    probes.reserve(running_.size());
    for (const auto& [id, r] : running_)
      probes.push_back(r.kind->probe(id, r));
    workers_->add_probes(probes);
    return probes;
  };
  readings_ = std::make_unique<GpuReadings>(ioc_, std::move(gpus), std::move(probes),
                                            [this] { on_reading(); });
  RunHost& host = *this;  // (the kinds see only this side of the orchestrator)
  bool cluster = executor->queues_runs();
  if (cluster) {
    runs_ = std::make_unique<ClusterRuns>(ioc_, host, std::move(executor), config_, *readings_);
  } else {
    runs_ = std::make_unique<ProcessRuns>(ioc_, host, std::move(executor), config_, *readings_);
  }
  workers_ = std::make_unique<WarmWorkers>(
      WarmWorkers::Deps{.ioc = ioc_,
                        .host = host,
                        .executor = runs_->executor(),
                        .stderr_switch = dynamic_cast<exec::StderrSwitch*>(&runs_->executor()),
                        .config = config_,
                        .catalog = catalog_,
                        .metrics = metrics_,
                        .feed = feed_,
                        .root = (std::filesystem::absolute(config_.data_dir) / "workers").string(),
                        .readings = *readings_,
                        .unavailable = cluster ? "this server sends jobs to Slurm" : ""});
}

void Orchestrator::enqueue(const Job& job) {
  queue_.push({.id = job.id,
               .priority = job.spec.priority,
               .vram_mb = job.spec.vram_mb,
               .queued_at_ms = job.queued_at_ms,
               .held_gpus = {},
               .gpus = job.spec.gpus,
               .worker_task = workers_->task_index(job.spec),
               .owner = owners_.id(job.spec.owner),
               .preemptible = job.spec.preemptible},
              core::pack_job(job));
  schedule_soon();
  // Its event keeps the queue's packed record and its place, and is made into JSON only if
  // read (submits stay as cheap as without events).
  JobId id = job.id;
  const std::string* record = queue_.record(id);
  std::optional<core::JobQueue::Place> place = queue_.place(id);
  if (!feed_.enabled() || record == nullptr || !place) return;
  feed_.job_lazy(
      id, job.spec.owner,
      [this, id, record = *record, place = *place] {
        JobView v{.job = {},
                  .queue_position = place.position,
                  .pending_reason = place.reason,
                  .job_dir = files_.dir(id)};
        if (auto job = core::unpack_job(record)) v.job = std::move(*job);
        v.job.spec.env.clear();  // values may be secrets; the item shows none
        return feed_.encoders().job(v);
      },
      600 + record->size());
}

std::optional<Job> Orchestrator::queued_job(JobId id) const {
  const std::string* record = queue_.record(id);
  if (record == nullptr) record = waiting_.parked().record(id);
  if (record == nullptr) return std::nullopt;
  auto job = core::unpack_job(*record);
  if (!job) {  // only a bug could get here: records are made by pack_job in this process
    spdlog::critical("job {}: {}", id, job.error().message);
    return std::nullopt;
  }
  return std::move(*job);
}

asio::awaitable<core::Result<std::optional<JobView>>> Orchestrator::get(JobId id) {
  if (auto q = queued_job(id)) co_return std::optional(view(*q));
  if (auto it = active_.find(id); it != active_.end()) co_return std::optional(view(it->second));
  if (auto it = ending_.settling.find(id); it != ending_.settling.end())
    co_return std::optional(view(it->second));
  auto stored = co_await store_->get(id);
  if (!stored) co_return stored.error();
  if (!*stored) co_return std::optional<JobView>();
  co_return std::optional(view(**stored));
}

asio::awaitable<core::Result<std::optional<JobView>>> Orchestrator::wait(
    JobId id, std::chrono::milliseconds wait) {
  auto first = co_await get(id);
  if (!first || !*first || core::is_terminal((*first)->job.state) || wait.count() <= 0) {
    co_return first;
  }
  // No suspension since get() saw the job live, so its end cannot slip in before we register.
  co_await waiters_.sleep(id, wait);
  co_return co_await get(id);
}

asio::awaitable<core::Result<CancelResult>> Orchestrator::cancel(JobId id, Caller caller) {
  // (No lambdas or declarations in conditions here: g++ 12 mis-destroys such temporaries in
  // coroutines.)
  std::optional<Job> queued = queued_job(id);
  if (queued) {
    if (!may_act(caller, *queued)) {
      co_return CancelResult{CancelOutcome::forbidden, view(*queued)};
    }
    spdlog::info("job {}: cancelled by {}", id, caller.name.empty() ? "a client" : caller.name);
    finish(id, JobState::cancelled, EndReason::cancelled, "cancelled before it started", {});
    co_return CancelResult{CancelOutcome::cancelled, view(ending_.settling.at(id))};
  }
  auto it = active_.find(id);
  if (it != active_.end()) {
    if (!may_act(caller, it->second)) {
      co_return CancelResult{CancelOutcome::forbidden, view(it->second)};
    }
    spdlog::info("job {}: cancel requested by {}", id,
                 caller.name.empty() ? "a client" : caller.name);
    stop_job(id, EndReason::cancelled);
    co_return CancelResult{CancelOutcome::stopping, view(it->second)};
  }
  auto found = co_await get(id);
  if (!found) co_return found.error();
  if (!*found) co_return CancelResult{CancelOutcome::not_found, std::nullopt};
  co_return CancelResult{CancelOutcome::already_ended, std::move(*found)};
}

std::optional<int> Orchestrator::attempt_of(JobId id) const {
  if (auto j = queued_job(id)) return j->attempt;
  if (auto it = active_.find(id); it != active_.end()) return it->second.attempt;
  if (auto it = ending_.settling.find(id); it != ending_.settling.end()) return it->second.attempt;
  return std::nullopt;
}

JobView Orchestrator::view(const Job& job) const {
  JobView v{.job = job, .job_dir = files_.dir(job.id)};
  auto r = running_.find(job.id);
  if (r != running_.end()) {
    r->second.kind->describe(job.id, v);
    if (job.state == JobState::running) {
      v.measured_vram_mb = r->second.highest_mb();
      v.progress = r->second.progress;
      v.progress_at_ms = r->second.progress_at_ms;
    }
  }
  if (job.state != JobState::queued || v.pending_reason != core::PendingReason::none) return v;
  if (waiting_.parked().contains(job.id)) {
    v.pending_reason = waiting_.parked().reason(job.id);  // not in the queue yet: no position
  } else if (auto place = queue_.place(job.id)) {
    v.queue_position = place->position;
    v.pending_reason = place->reason;
    if (std::optional<OwnerBook::Share> share = owners_.share_of(job.spec.owner)) {
      v.fair_share = JobView::FairShare{.use_mib_s = share->use_mib_s, .weight = share->weight};
    }
  }
  if (v.pending_reason == core::PendingReason::quota) {
    v.quota = owners_.quota_figures(job.spec.owner, job.spec.vram_mb * std::max(1, job.spec.gpus),
                                    job.spec.preemptible);
  }
  return v;
}

std::vector<core::GpuView> Orchestrator::gpu_views() const {
  const std::vector<gpu::GpuInfo>& gpus = readings_->gpus();
  std::vector<core::GpuView> views;
  views.reserve(gpus.size());
  for (std::size_t i = 0; i < gpus.size(); ++i) {
    views.push_back({.index = gpus[i].index,
                     .total_mb = gpus[i].total_mb,
                     .committed_mb = 0,
                     .foreign_mb = gpus[i].foreign_mb,
                     .known = readings_->known(i)});
  }
  for (const auto& [g, mb] : readings_->departed_mb()) {
    if (g >= 0 && g < static_cast<int>(views.size())) views[g].committed_mb += mb;
  }
  for (const auto& [id, r] : running_) {
    for (int g : r.gpus) {
      if (g < 0 || g >= static_cast<int>(views.size())) continue;
      auto m = r.measured_mb.find(g);
      views[g].committed_mb += std::max(r.reservation_mb, m == r.measured_mb.end() ? 0 : m->second);
    }
  }
  workers_->add_held(views);
  return views;
}

ServiceHealth Orchestrator::health() const {
  return {.draining = draining_,
          .gpu_error = readings_->error(),
          .gpu_kind = std::string(readings_->kind()),
          .store = store_->health(),
          .store_commit_seconds = store_->commit_seconds(),
          .queued = queue_.size(),
          .waiting = waiting_.parked().size(),
          .running = static_cast<std::size_t>(std::ranges::count_if(
              running_, [](const auto& r) { return r.second.kind->running(r.first); })),
          .starts = runs_->executor().starts()};
}

std::vector<GpuStatus> Orchestrator::gpus() const {
  std::vector<core::GpuView> views = gpu_views();
  std::vector<GpuStatus> out;
  for (std::size_t i = 0; i < views.size(); ++i) {
    GpuStatus s{.info = readings_->gpus()[i],
                .committed_mb = views[i].committed_mb,
                .available_mb =
                    std::max<std::int64_t>(0, core::available_mb(views[i], config_.vram_buffer_mb)),
                .known = views[i].known};
    for (const auto& [id, r] : running_) {
      if (std::ranges::find(r.gpus, static_cast<int>(i)) != r.gpus.end()) {
        s.reserved_mb += r.reservation_mb;
        s.jobs.push_back(id);
      }
    }
    s.workers = workers_->on_gpu(static_cast<int>(i));
    out.push_back(std::move(s));
  }
  return out;
}

void Orchestrator::schedule_soon() {
  if (schedule_posted_) return;
  schedule_posted_ = true;
  asio::post(ioc_, [this] { schedule(); });
}

void Orchestrator::schedule() {
  schedule_posted_ = false;
  if (std::optional<std::size_t> count = runs_->takes_queue()) {
    // A kind that takes queued jobs itself (a cluster): handed over at once, in queue order.
    for (JobId id : draining_ ? std::vector<JobId>{} : queue_.head(*count)) {
      if (std::optional<Job> job = queued_job(id)) launch(std::move(*job), {}, 0);
    }
    queue_events_.changed();
    return;
  }
  std::vector<core::GpuView> views = gpu_views();
  std::vector<OwnerBook::Held> held = held_by_owners(running_, active_);
  const core::QuotaView& quotas = owners_.quota_view(held);
  if (!quotas.empty() && !draining_) {
    reclaim(views, quotas);
    held = held_by_owners(running_, active_);  // a claimant may have started
  }
  core::Planner planner(views, now_ms(), core::scheduler_config(config_), draining_,
                        queue_.min_vram_mb());
  if (workers_->any()) {
    core::WorkerView workers = workers_->view(readings_->gpus().size());
    owners_.add_uids(workers);
    planner.use_workers(std::move(workers));
  }
  if (const core::QuotaView& now = owners_.quota_view(held); !now.empty()) planner.use_quotas(now);
  std::vector<core::StartDecision> starts =
      queue_.pass(std::move(planner), owners_.shares(now_ms(), held));
  // Chosen to make room: out of the idle pool now, their memory counted until they are gone.
  workers_->evict(queue_.evictions());
  for (const core::StartDecision& s : starts) {
    // Decide, then act: re-check the invariant against the state as it is now, with every start
    // of this pass already applied.
    std::optional<Job> job = queued_job(s.job);
    if (!job) continue;
    std::vector<core::GpuView> now = gpu_views();
    std::optional<std::int64_t> need = kind_for(*job).start_need_mb(*job, s.worker);
    bool fits =
        need && std::ranges::all_of(s.all_gpus(), [&](int g) {
          return now.at(g).known && core::available_mb(now[g], config_.vram_buffer_mb) >= *need;
        });
    if (!fits) {
      ++metrics_.recheck_failures;
      spdlog::error("job {}: start on GPU {} failed the VRAM re-check; planning again", s.job,
                    fmt::join(s.all_gpus(), ","));
      queue_.set_reason(s.job, core::PendingReason::vram);
      schedule_soon();
      continue;
    }
    job->borrowed = s.borrowed;
    launch(std::move(*job), s.all_gpus(), s.worker);
  }
  if (const std::optional<Reclaimer::Claim>& c = reclaimer_.claim()) {
    queue_.set_reason(c->claimant.id, core::PendingReason::reclaiming);
  }
  if (!starts.empty()) readings_->request();
  queue_events_.changed();
}

Orchestrator::~Orchestrator() {
  inputs_->worker().join();
}

asio::awaitable<void> Orchestrator::drain() {
  draining_ = true;
  workers_->release_on_drain();
  readings_->stop_polling();
  retention_.stop();
  schedule_soon();
  bool stop_jobs = config_.stop_jobs_on_exit;
  if (stop_jobs) {
    std::vector<JobId> ids;
    for (const auto& [id, r] : running_)
      ids.push_back(id);
    for (JobId id : ids)
      stop_job(id, EndReason::interrupted);
  }
  asio::steady_timer tick(ioc_);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(config_.kill_grace_s + 5);
  // Shutdown only: a short poll until every end already under way is recorded (and, with
  // --stop-jobs-on-exit, every job has exited). Running jobs otherwise stay with their
  // supervisors: the next start adopts them.
  auto unloading = [this] { return workers_->unloading(); };
  while (((stop_jobs && !running_.empty()) || ending_.reading > 0 || !ending_.settling.empty() ||
          admitting_.saving > 0 || unloading() || inputs_->worker().busy()) &&
         std::chrono::steady_clock::now() < deadline) {
    tick.expires_after(std::chrono::milliseconds(20));
    co_await tick.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  if (!running_.empty()) {
    spdlog::info(
        "{} jobs keep running under their supervisors; a vramq started on this data directory "
        "within {} s (--orphan-grace-s) adopts them, else they are ended",
        running_.size(), config_.orphan_grace_s);
  }
}

}  // namespace vramq::service
