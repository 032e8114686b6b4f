// Orchestrator: admission. A submission is validated and resolved into a job (build_job),
// refused while draining or when the queue is full and it could not start at once, stored
// durably (with its Idempotency-Key, so that a retry gets the first job back), then queued or
// parked; dry runs answer what would happen without storing anything.
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <cmath>
#include <system_error>

#include "core/slurm_request.hpp"
#include "core/start_prediction.hpp"
#include "service/orchestrator.hpp"

namespace vramq::service {
namespace asio = boost::asio;
using core::Job;
using core::JobId;

namespace {

// Dry runs simulate at most this many queued jobs ahead (and extrapolate past them).
constexpr std::size_t kPredictionLimit = 2000;

// A store save as an awaitable operation.
template <class Token>
auto async_save(store::Store& store, Job job, std::optional<store::Store::IdempotencyRecord> key,
                Token&& token) {
  return asio::async_initiate<Token, void(core::Result<void>)>(
      [&store](auto handler, const Job& j,
               const std::optional<store::Store::IdempotencyRecord>& k) {
        // Store::Done is a std::function, which must be copyable; the handler is not.
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        // Once: a submission the store cannot take is refused, never retried behind the client.
        store.save(
            j, [shared](const core::Result<void>& r) { std::move (*shared)(r); }, k, std::nullopt,
            store::Store::SaveMode::once);
      },
      token, std::move(job), std::move(key));
}

// Why a submission cannot be stored now, if the store is at fault.
std::optional<SubmitError> store_refusal(const store::Store::Health& health) {
  switch (health.fault) {
    case store::StoreFault::none:
      return std::nullopt;
    case store::StoreFault::full:
      return SubmitError{SubmitErrc::storage_full, "",
                         fmt::format("the disk of the data directory is full, so no job can be "
                                     "stored: {} (jobs already accepted are kept)",
                                     health.error),
                         30};
    case store::StoreFault::busy:
      return SubmitError{
          SubmitErrc::store_unavailable, "",
          fmt::format("the job store is locked by another process: {}", health.error), 5};
    case store::StoreFault::io:
      return SubmitError{
          SubmitErrc::store_unavailable, "",
          fmt::format("the job store cannot write (a write or fsync failed): {}", health.error),
          10};
  }
  return std::nullopt;
}

void log_submitted(const Job& job) {
  spdlog::info("job {}: submitted by {} ({}, {} MiB{}{})", job.id,
               job.spec.owner.empty() ? "a client" : job.spec.owner,
               job.spec.task.empty() ? "raw command" : "task " + job.spec.task, job.spec.vram_mb,
               job.spec.after_ok.empty()
                   ? ""
                   : fmt::format(", after ok {}", fmt::join(job.spec.after_ok, ",")),
               job.spec.after_any.empty()
                   ? ""
                   : fmt::format(", after any {}", fmt::join(job.spec.after_any, ",")));
}

}  // namespace

boost::system::result<Job, SubmitError> Orchestrator::admit(SubmitRequest& req, JobId id) const {
  auto job = make_job(req, id,
                      {.config = config_,
                       .catalog = catalog_,
                       .footprints = footprints_,
                       .dir = files_.dir(id),
                       .largest_mb = readings_->largest_mb(config_.vram_buffer_mb),
                       .now_ms = now_ms()});
  if (!job) return job.error();
  if (std::optional<Refusal> no = kind_for(*job).refuses(*job)) {
    return SubmitError{SubmitErrc::unprocessable, std::move(no->field), std::move(no->detail)};
  }
  if (draining_) {
    return SubmitError{SubmitErrc::draining, "", "vramq is shutting down and takes no new jobs"};
  }
  // A store at fault would only fail the save: refused at once; its probe clears the fault.
  if (std::optional<SubmitError> e = store_refusal(store_->health())) return *e;
  auto waiting =
      static_cast<std::int64_t>(queue_.size() + waiting_.parked().size()) + admitting_.saving;
  // A full queue refuses only jobs that would wait: one that can start at once never joins it.
  auto waiting_of = [this](std::uint32_t owner) {
    auto saving = admitting_.saving_by_owner.find(owner);
    return static_cast<std::int64_t>(queue_.count_of(owner) + waiting_.parked().count_of(owner)) +
           (saving == admitting_.saving_by_owner.end() ? 0 : saving->second);
  };
  if (std::optional<SubmitError> no =
          owners_.refuses(job->spec, waiting_of, [&] { return !start_gpus_now(*job).empty(); })) {
    if (no->code == SubmitErrc::queue_full)
      no->retry_after_s = run_times_.retry_after_s(running_.size());
    return *no;
  }
  if (waiting >= config_.queue_max && start_gpus_now(*job).empty()) {
    return SubmitError{SubmitErrc::queue_full, "",
                       fmt::format("the queue is full: {} jobs waiting, the limit is {}", waiting,
                                   config_.queue_max),
                       run_times_.retry_after_s(running_.size())};
  }
  return job;
}

asio::awaitable<boost::system::result<JobView, SubmitError>> Orchestrator::submit(
    SubmitRequest req) {
  if (req.idempotency_key.empty()) co_return co_await submit_new(std::move(req));
  // Keys are scoped per owner: one client's key never returns (or blocks) another's job.
  if (!req.owner.empty()) req.idempotency_key = req.owner + '\x1f' + req.idempotency_key;
  // One request per key at a time: a retry racing its original waits for the original's answer.
  std::string key = req.idempotency_key;
  asio::steady_timer pause(ioc_);
  for (int i = 0; keys_.busy(key); ++i) {
    if (i >= 2000) {
      co_return SubmitError{SubmitErrc::conflict, "Idempotency-Key",
                            "another request with this Idempotency-Key is still being handled"};
    }
    pause.expires_after(std::chrono::milliseconds(5));
    co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  IdempotencyKeys::Hold held = keys_.hold(key);  // however this ends
  auto found = co_await store_->find_key(key, IdempotencyKeys::oldest_ms(now_ms()));
  if (!found) co_return SubmitError{SubmitErrc::store_failed, "", found.error().message};
  if (!*found) co_return co_await submit_new(std::move(req));
  const store::Store::IdempotencyRecord& first = **found;
  if (first.body_hash != req.body_hash) {
    co_return SubmitError{
        SubmitErrc::conflict, "Idempotency-Key",
        fmt::format("Idempotency-Key '{}' was already used with another body "
                    "(it created job {})",
                    req.idempotency_key.substr(req.idempotency_key.find('\x1f') + 1), first.job)};
  }
  auto job = co_await get(first.job);
  if (!job || !*job) {
    co_return SubmitError{SubmitErrc::store_failed, "",
                          fmt::format("job {} of this Idempotency-Key cannot be read", first.job)};
  }
  JobView v = std::move(**job);
  v.replayed = true;
  co_return v;
}

std::vector<int> Orchestrator::start_gpus_now(const Job& job) const {
  if (!job.spec.after_ok.empty() || !job.spec.after_any.empty()) return {};
  // A warm worker's run depends on its workers too: never certain without a pass.
  if (!kind_for(job).placed_by_ledger()) return {};
  // Nor does one that its owner's quotas would keep back.
  if (owners_.verdict_now(job.spec, held_by_owners(running_, active_)) ==
      core::QuotaVerdict::waits) {
    return {};
  }
  std::vector<core::GpuView> views = gpu_views();
  for (std::size_t g = 0; g < views.size() && g < admitting_.mb.size(); ++g)
    views[g].committed_mb += admitting_.mb[g];
  // Only when no queued job can start now (the planner is settled against the whole queue) is
  // the answer certain without a pass: no queued job will take the room first.
  core::Planner planner(views, now_ms(), core::scheduler_config(config_), draining_,
                        queue_.min_vram_mb());
  if (!queue_.empty() && !planner.settled()) return {};
  // Best fit over the GPUs no starving job holds, as a pass would choose.
  std::erase_if(views, [&](const core::GpuView& v) { return queue_.held(v.index); });
  core::Planner alone(views, now_ms(), core::scheduler_config(config_), draining_);
  core::Planner::Decision d = alone.offer({.id = job.id,
                                           .priority = job.spec.priority,
                                           .vram_mb = job.spec.vram_mb,
                                           .queued_at_ms = now_ms(),
                                           .held_gpus = {},
                                           .gpus = job.spec.gpus});
  return d.start ? d.start->all_gpus() : std::vector<int>{};
}

boost::system::result<DryRun, SubmitError> Orchestrator::dry_run(SubmitRequest req) {
  JobId id = next_id_;  // not taken: the job is only imagined
  auto job = admit(req, id);
  if (!job) return job.error();
  if (waiting_.has_live_dependency(*job)) {
    // It would wait outside the queue until those jobs end: no place and no prediction yet.
    return DryRun{.vram_mb = job->spec.vram_mb,
                  .pending = core::PendingDecision{
                      .job = id, .position = -1, .reason = core::PendingReason::dependency}};
  }
  core::QueuedJob probe{.id = id,
                        .priority = job->spec.priority,
                        .vram_mb = job->spec.vram_mb,
                        .queued_at_ms = now_ms(),
                        .held_gpus = {},
                        .gpus = job->spec.gpus,
                        .worker_task = workers_->task_index(job->spec),
                        .owner = owners_.id(job->spec.owner),
                        .preemptible = job->spec.preemptible};
  std::vector<core::QueuedJob> queue = queue_.snapshot(&probe);
  std::vector<core::GpuView> views = gpu_views();
  core::WorkerView workers = workers_->view(views.size());
  owners_.add_uids(workers);
  core::Decisions d = core::plan({.queue = queue,
                                  .gpus = views,
                                  .now_ms = now_ms(),
                                  .config = core::scheduler_config(config_),
                                  .draining = draining_,
                                  .workers = std::move(workers),
                                  .quotas = owners_.quota_view(held_by_owners(running_, active_))});
  DryRun out{.vram_mb = job->spec.vram_mb};
  for (const core::StartDecision& s : d.starts) {
    if (s.job == id) out.start = s;
  }
  for (const core::PendingDecision& p : d.pending) {
    if (p.job == id) out.pending = p;
  }
  out.predicted_start_ms = now_ms();
  if (out.pending) {
    std::vector<core::PredictionQueued> ahead;
    for (const core::QueuedJob& q : queue) {
      if (q.id == id) break;
      std::int64_t duration = 0;
      if (ahead.size() < kPredictionLimit) {
        if (auto j = queued_job(q.id)) duration = run_times_.expected_ms(j->spec);
      }
      ahead.push_back({.vram_mb = q.vram_mb, .duration_ms = duration, .gpus = q.gpus});
    }
    ahead.push_back({.vram_mb = job->spec.vram_mb,
                     .duration_ms = run_times_.expected_ms(job->spec),
                     .gpus = job->spec.gpus});
    out.predicted_start_ms = predict_start(ahead).value_or(0);
  }
  return out;
}

std::optional<std::int64_t> Orchestrator::predict_start(
    std::span<const core::PredictionQueued> queue) const {
  std::vector<core::PredictionGpu> gpus;
  for (const core::GpuView& v : gpu_views()) {
    gpus.push_back({.free_mb = core::available_mb(v, config_.vram_buffer_mb), .known = v.known});
  }
  std::vector<core::PredictionRunning> running;
  for (const auto& [rid, r] : running_) {
    const Job& j = active_.at(rid);
    for (int g : r.gpus) {
      auto m = r.measured_mb.find(g);
      running.push_back(
          {.gpu = g,
           .committed_mb = std::max(r.reservation_mb, m == r.measured_mb.end() ? 0 : m->second),
           .end_ms = j.started_at_ms + run_times_.expected_ms(j.spec)});
    }
  }
  return core::predict_start_ms(now_ms(), gpus, running, queue, kPredictionLimit);
}

asio::awaitable<boost::system::result<JobView, SubmitError>> Orchestrator::submit_new(
    SubmitRequest req) {
  bool has_dependencies = !req.after_ok.empty() || !req.after_any.empty();
  if (has_dependencies) {
    auto deps = co_await waiting_.settle(req.after_ok, req.after_any);
    if (!deps) co_return SubmitError{SubmitErrc::store_failed, "", deps.error().message};
    if (!deps->unknown.empty()) {
      co_return SubmitError{SubmitErrc::unprocessable, "after",
                            fmt::format("after: no job {} to wait for", deps->unknown.front())};
    }
  }
  // The id is taken only once the job is valid and admitted: a refused request changes nothing,
  // not even the next id (nothing suspends between here and the increment).
  JobId id = next_id_;
  auto job = admit(req, id);
  if (!job) co_return job.error();
  ++next_id_;
  // Admitted past a full queue because it starts at once: its room is spoken for until the pass
  // after its save has started it, so that a burst of such jobs cannot all count on one GPU.
  std::vector<int> over_cap;
  if (static_cast<std::int64_t>(queue_.size() + waiting_.parked().size()) + admitting_.saving >=
      config_.queue_max) {
    over_cap = start_gpus_now(*job);
    for (int g : over_cap)
      admitting_.mb.at(g) += job->spec.vram_mb;
  }
  std::optional<store::Store::IdempotencyRecord> key;
  if (!req.idempotency_key.empty()) {
    key = store::Store::IdempotencyRecord{.key = req.idempotency_key,
                                          .body_hash = req.body_hash,
                                          .job = id,
                                          .created_at_ms = job->submitted_at_ms};
  }
  ++admitting_.saving;
  std::uint32_t owner = owners_.id(job->spec.owner);
  ++admitting_.saving_by_owner[owner];
  // Its uploads are kept under its id before its row exists: a stored job has its files.
  core::Result<void> saved;
  int kept_errno = 0;
  if (req.inputs) kept_errno = co_await inputs_->adopt(*req.inputs, id);
  bool kept = kept_errno == 0;
  if (!kept) {
    saved = core::Error{
        fmt::format("its uploaded files could not be kept: {}", util::errno_text(kept_errno))};
  }
  if (kept) saved = co_await async_save(*store_, *job, std::move(key), asio::use_awaitable);
  // Counted as waiting until it is in the queue or parked (a job with dependencies is placed
  // after another suspension): concurrent submits of one owner cannot pass max_queued.
  auto stored_now = [this, owner] {
    --admitting_.saving;
    if (--admitting_.saving_by_owner[owner] == 0) admitting_.saving_by_owner.erase(owner);
  };
  if (!saved) {
    stored_now();
    for (int g : over_cap)
      admitting_.mb.at(g) -= job->spec.vram_mb;
    spdlog::error("job {}: not stored: {}", id, saved.error().message);
    inputs_->discard(id);
    if (!kept) {
      bool full = kept_errno == ENOSPC || kept_errno == EDQUOT;
      co_return SubmitError{full ? SubmitErrc::storage_full : SubmitErrc::store_failed, "",
                            saved.error().message, full ? 30 : 0};
    }
    std::optional<SubmitError> fault = store_refusal(store_->health());
    if (fault) co_return *fault;
    co_return SubmitError{SubmitErrc::store_failed, "",
                          "the job could not be stored: " + saved.error().message};
  }
  log_submitted(*job);
  ++metrics_.submitted[job->spec.task];
  if (has_dependencies) {
    // Where its dependencies stand now (they may have ended while it was stored).
    auto deps = co_await waiting_.settle(job->spec.after_ok, job->spec.after_any);
    if (!deps)
      deps = WaitingJobs::Dependencies{.ok = job->spec.after_ok, .any = job->spec.after_any};
    stored_now();
    waiting_.place(*job, *deps);
  } else {
    stored_now();
    enqueue(*job);
  }
  // Let the (coalesced) scheduling pass run first, so the answer shows the job's place.
  co_await asio::post(ioc_, asio::use_awaitable);
  for (int g : over_cap)
    admitting_.mb.at(g) -= job->spec.vram_mb;
  if (auto q = queued_job(id)) co_return view(*q);
  if (auto a = active_.find(id); a != active_.end()) co_return view(a->second);
  if (auto s = ending_.settling.find(id); s != ending_.settling.end()) co_return view(s->second);
  auto stored = co_await store_->get(id);
  if (stored && *stored) co_return view(**stored);
  co_return SubmitError{SubmitErrc::store_failed, "", "the job vanished after it was stored"};
}

}  // namespace vramq::service
