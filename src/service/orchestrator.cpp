#include "service/orchestrator.hpp"

#include <malloc.h>
#include <signal.h>
#include <string.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <cmath>
#include <filesystem>

#include "core/footprints.hpp"
#include "core/job_record.hpp"
#include "core/run_outcome.hpp"
#include "core/start_prediction.hpp"
#include "core/units.hpp"
#include "exec/process_probe.hpp"
#include "exec/program_path.hpp"
#include "util/json_text.hpp"
#include "util/real_path.hpp"

extern char** environ;

namespace vramq::service {
namespace asio = boost::asio;
using core::EndReason;
using core::Job;
using core::JobId;
using core::JobState;

namespace {

constexpr std::int64_t kKeyLifetimeMs = std::int64_t{24} * 3600 * 1000;
// Dry runs simulate at most this many queued jobs ahead (and extrapolate past them).
constexpr std::size_t kPredictionLimit = 2000;

// A store save as an awaitable operation.
template <class Token>
auto async_save(store::JobStore& store, Job job,
                std::optional<store::JobStore::IdempotencyRecord> key, Token&& token) {
  return asio::async_initiate<Token, void(core::Result<void>)>(
      [&store](auto handler, const Job& j,
               const std::optional<store::JobStore::IdempotencyRecord>& k) {
        // JobStore::Done is a std::function, which must be copyable; the handler is not.
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        store.save(
            j, [shared](const core::Result<void>& r) { std::move (*shared)(r); }, k);
      },
      token, std::move(job), std::move(key));
}

std::string params_to_json(const std::map<std::string, core::ParamValue, std::less<>>& params) {
  boost::json::object o;
  for (const auto& entry : params) {
    std::visit([&](const auto& v) { o[entry.first] = v; }, entry.second);
  }
  return util::to_json_text(o);
}

// The inverse, for jobs read back (params_json holds only ints, doubles and strings).
std::map<std::string, core::ParamValue, std::less<>> params_from_json(std::string_view text) {
  std::map<std::string, core::ParamValue, std::less<>> out;
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  if (ec || !v.is_object()) return out;
  for (const auto& [k, value] : v.get_object()) {
    if (value.is_int64()) out.emplace(k, value.get_int64());
    if (value.is_double()) out.emplace(k, value.get_double());
    if (value.is_string()) out.emplace(k, std::string(value.get_string()));
  }
  return out;
}

// The part of the server's environment a job inherits; everything else it gets is explicit.
constexpr std::string_view kInherited[] = {"PATH", "HOME",   "LANG", "LC_ALL",
                                           "TZ",   "TMPDIR", "USER", "LOGNAME"};

std::vector<std::string> job_environment(
    const std::vector<std::pair<std::string, std::string>>& extra) {
  std::map<std::string, std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view kv(*e);
    std::size_t eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    if (std::ranges::find(kInherited, kv.substr(0, eq)) != std::end(kInherited)) {
      env[std::string(kv.substr(0, eq))] = std::string(kv.substr(eq + 1));
    }
  }
  for (const auto& [k, v] : extra)
    env[k] = v;  // later sources win
  std::vector<std::string> out;
  for (const auto& [k, v] : env) {
    std::string kv = k;
    kv.append("=").append(v);
    out.push_back(std::move(kv));
  }
  return out;
}

// A job's log file: the one place that names them.
std::string log_path(const std::string& job_dir, std::string_view stream) {
  return job_dir + (stream == "stderr" ? "/stderr.log" : "/stdout.log");
}

// An earlier attempt's log, kept beside the current one when the job was retried.
std::string attempt_log_path(const std::string& job_dir, std::string_view stream, int attempt) {
  return fmt::format("{}/attempt-{}.{}.log", job_dir, attempt,
                     stream == "stderr" ? "stderr" : "stdout");
}

}  // namespace

Orchestrator::Orchestrator(asio::io_context& ioc, core::Config config, core::TaskCatalog catalog,
                           std::unique_ptr<gpu::GpuSource> gpus,
                           std::unique_ptr<exec::Executor> executor,
                           std::unique_ptr<store::JobStore> store)
    : ioc_(ioc),
      config_(std::move(config)),
      catalog_(std::move(catalog)),
      gpu_source_(std::move(gpus)),
      executor_(std::move(executor)),
      store_(std::move(store)),
      gpu_kind_(gpu_source_->kind()),
      jobs_root_((std::filesystem::absolute(config_.data_dir) / "jobs").string() + "/"),
      parked_timer_(ioc),
      poll_timer_(ioc),
      log_watcher_(ioc, config_.log_follow == "inotify"),
      gpu_worker_(ioc.get_executor()),
      file_worker_(ioc.get_executor()) {
  const char* crash = std::getenv("VRAMQ_TEST_CRASH_AFTER_SPAWN");
  crash_after_spawn_ = crash != nullptr && std::string_view(crash) == "1";
  footprints_ = core::Footprints({.tolerance = config_.vram_tolerance});
  vram_limits_ = {
      .tolerance = config_.vram_tolerance,
      .grace_ms = config_.vram_grace_ms,
      .policy = core::parse_vram_policy(config_.vram_policy).value_or(core::VramPolicy::kill)};
}

Orchestrator::~Orchestrator() {
  gpu_worker_.join();
  file_worker_.join();
}

std::int64_t Orchestrator::now_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Orchestrator::job_dir(JobId id) const {
  return jobs_root_ + std::to_string(id);
}

boost::system::result<Job, SubmitError> Orchestrator::build_job(SubmitRequest& req, JobId id) {
  Job job;
  job.id = id;
  job.submitted_at_ms = now_ms();
  job.queued_at_ms = job.submitted_at_ms;
  job.spec.priority = req.priority;
  job.spec.gpus = req.gpus;
  job.spec.max_retries = req.max_retries;
  job.spec.retry_delay_s = req.retry_delay_s;
  job.spec.after_ok = req.after_ok;
  job.spec.after_any = req.after_any;
  job.spec.name = req.name;
  job.spec.labels = req.labels;
  job.spec.owner = req.owner;
  if (req.task.empty()) {
    if (!config_.allow_raw_commands) {
      return SubmitError{SubmitErrc::forbidden, "command",
                         "raw commands are disabled on this server (the operator can enable them "
                         "with --allow-raw-commands); submit a task from GET /v1/tasks instead"};
    }
    if (req.command[0].find('/') == std::string::npos &&
        !exec::find_program(req.command[0], exec::path_of(job_environment(req.env)), "")) {
      return SubmitError{
          SubmitErrc::unprocessable, "command[0]",
          fmt::format("command[0]: '{}' is not on the job's PATH ({}); give the program's "
                      "absolute path, or set PATH in env",
                      req.command[0], exec::path_of(job_environment(req.env)))};
    }
    job.spec.argv = std::move(req.command);
    job.spec.cwd = job_dir(id);
    job.spec.vram_mb = req.vram_mb.value_or(config_.default_vram_mb);
    job.spec.timeout_s = req.timeout_s.value_or(0);
    job.spec.env = std::move(req.env);
  } else {
    const core::TaskDef* task = catalog_.find(req.task);
    if (task == nullptr) {
      return SubmitError{
          SubmitErrc::unprocessable, "task",
          fmt::format("unknown task '{}' (vramq tasks, or GET /v1/tasks, lists them)", req.task)};
    }
    auto resolved = core::resolve_task(*task, req.params, job_dir(id), id, util::real_path);
    if (!resolved) {
      return SubmitError{SubmitErrc::unprocessable, resolved.error().field,
                         fmt::format("{}: {}", resolved.error().field, resolved.error().message)};
    }
    for (const auto& [name, value] : req.env) {
      if (std::ranges::find(task->env_allow, name) == task->env_allow.end()) {
        return SubmitError{
            SubmitErrc::unprocessable, "env." + name,
            fmt::format("env.{}: task '{}' does not let clients set {} (allowed: {})", name,
                        task->name, name,
                        task->env_allow.empty()
                            ? "none"
                            : fmt::format("{}", fmt::join(task->env_allow, ", ")))};
      }
    }
    if (req.timeout_s && task->timeout_s > 0 && *req.timeout_s > task->timeout_s) {
      return SubmitError{
          SubmitErrc::unprocessable, "timeout_s",
          fmt::format("timeout_s: task '{}' allows at most {} s", task->name, task->timeout_s)};
    }
    job.spec.task = task->name;
    job.spec.params_json = params_to_json(resolved->params);
    job.spec.argv = std::move(resolved->argv);
    job.spec.cwd = std::move(resolved->cwd);
    job.spec.env = std::move(resolved->env);
    for (auto& kv : req.env)
      job.spec.env.push_back(std::move(kv));
    job.spec.vram_mb = req.vram_mb.value_or(resolved->vram_mb);
    if (!req.vram_mb && task->learn) {
      // Enough measured runs of this kind: reserve what they used (p95 + margin), not the
      // declared rule, within what the largest GPU can give.
      std::string bucket = core::footprint_bucket(task->vram, resolved->params);
      if (auto learned = footprints_.reservation(task->name, bucket)) {
        job.spec.vram_mb = std::min(*learned, std::max<std::int64_t>(largest_capacity_mb(), 0));
      }
    }
    job.spec.timeout_s = req.timeout_s.value_or(resolved->timeout_s);
  }
  job.spec.gpus = req.gpus;
  std::vector<core::GpuView> views = gpu_views();
  if (req.gpus > static_cast<int>(views.size())) {
    return SubmitError{SubmitErrc::unprocessable, "gpus",
                       fmt::format("gpus: the job needs {} GPUs at once but this server has {}",
                                   req.gpus, views.size())};
  }
  if (!core::fits_ever(job.spec.vram_mb, views, config_.vram_buffer_mb, req.gpus)) {
    if (req.gpus > 1 && core::fits_ever(job.spec.vram_mb, views, config_.vram_buffer_mb)) {
      return SubmitError{
          SubmitErrc::unprocessable, "vram_mb",
          fmt::format("vram_mb: the job needs {} MiB on each of {} GPUs, but fewer of this "
                      "server's GPUs can ever give that much (GPU minus the {} MiB buffer)",
                      job.spec.vram_mb, req.gpus, config_.vram_buffer_mb)};
    }
    return SubmitError{
        SubmitErrc::unprocessable, "vram_mb",
        fmt::format("vram_mb: the job needs {} MiB but no GPU can ever give more than {} MiB "
                    "(largest GPU minus the {} MiB buffer)",
                    job.spec.vram_mb, std::max<std::int64_t>(largest_capacity_mb(), 0),
                    config_.vram_buffer_mb)};
  }
  return job;
}

std::int64_t Orchestrator::retry_after_s() const {
  // One queued job must leave the queue for a slot to open: about one mean run time divided by
  // the jobs running in parallel.
  double slots = std::max<double>(1.0, static_cast<double>(running_.size()));
  return std::clamp<std::int64_t>(static_cast<std::int64_t>(std::ceil(mean_run_s_ / slots)), 1,
                                  3600);
}

asio::awaitable<boost::system::result<JobView, SubmitError>> Orchestrator::submit(
    SubmitRequest req) {
  if (req.idempotency_key.empty()) co_return co_await submit_new(std::move(req));
  // Keys are scoped per owner: one client's key never returns (or blocks) another's job.
  if (!req.owner.empty()) req.idempotency_key = req.owner + '\x1f' + req.idempotency_key;
  // One request per key at a time: a retry racing its original waits for the original's answer.
  std::string key = req.idempotency_key;
  asio::steady_timer pause(ioc_);
  for (int i = 0; keys_in_flight_.contains(key); ++i) {
    if (i >= 2000) {
      co_return SubmitError{SubmitErrc::conflict, "Idempotency-Key",
                            "another request with this Idempotency-Key is still being handled"};
    }
    pause.expires_after(std::chrono::milliseconds(5));
    co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  keys_in_flight_.insert(key);
  auto result = co_await submit_or_replay(std::move(req));
  keys_in_flight_.erase(key);
  co_return result;
}

asio::awaitable<boost::system::result<JobView, SubmitError>> Orchestrator::submit_or_replay(
    SubmitRequest req) {
  auto found = co_await store_->async_find_key(req.idempotency_key, now_ms() - kKeyLifetimeMs,
                                               asio::use_awaitable);
  if (!found) co_return SubmitError{SubmitErrc::store_failed, "", found.error().message};
  if (!*found) co_return co_await submit_new(std::move(req));
  const store::JobStore::IdempotencyRecord& first = **found;
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

std::optional<SubmitError> Orchestrator::admission_refusal(const Job& job) const {
  if (draining_) {
    return SubmitError{SubmitErrc::draining, "", "vramq is shutting down and takes no new jobs"};
  }
  auto waiting = static_cast<std::int64_t>(queue_.size() + parked_.size()) + saving_;
  // A full queue refuses only jobs that would wait: one that can start at once never joins it.
  if (waiting >= config_.queue_max && start_gpus_now(job).empty()) {
    return SubmitError{SubmitErrc::queue_full, "",
                       fmt::format("the queue is full: {} jobs waiting, the limit is {}", waiting,
                                   config_.queue_max),
                       retry_after_s()};
  }
  return std::nullopt;
}

std::vector<int> Orchestrator::start_gpus_now(const Job& job) const {
  if (!job.spec.after_ok.empty() || !job.spec.after_any.empty()) return {};
  std::vector<core::GpuView> views = gpu_views();
  for (std::size_t g = 0; g < views.size() && g < admitting_mb_.size(); ++g)
    views[g].committed_mb += admitting_mb_[g];
  // Only when no queued job can start now (the planner is settled against the whole queue) is
  // the answer certain without a pass: no queued job will take the room first.
  core::Planner planner(views, now_ms(), scheduler_config(), draining_, queue_.min_vram_mb());
  if (!queue_.empty() && !planner.settled()) return {};
  // Best fit over the GPUs no starving job holds, as a pass would choose.
  std::erase_if(views, [&](const core::GpuView& v) { return queue_.held(v.index); });
  core::Planner alone(views, now_ms(), scheduler_config(), draining_);
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
  auto job = build_job(req, id);
  if (!job) return job.error();
  if (auto refused = admission_refusal(*job)) return *refused;
  if (has_live_dependency(*job)) {
    // It would wait outside the queue until those jobs end: no place and no prediction yet.
    return DryRun{.vram_mb = job->spec.vram_mb,
                  .pending = core::PendingDecision{
                      .job = id, .position = -1, .reason = core::PendingReason::dependency}};
  }
  std::vector<core::QueuedJob> queue = queue_.snapshot();
  core::QueuedJob probe{.id = id,
                        .priority = job->spec.priority,
                        .vram_mb = job->spec.vram_mb,
                        .queued_at_ms = now_ms(),
                        .held_gpus = {},
                        .gpus = job->spec.gpus};
  queue.insert(std::ranges::upper_bound(queue, probe, core::queue_before), probe);
  core::Decisions d = plan_now(queue);
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
        if (auto j = queued_job(q.id)) duration = expected_run_ms(j->spec);
      }
      ahead.push_back({.vram_mb = q.vram_mb, .duration_ms = duration, .gpus = q.gpus});
    }
    ahead.push_back({.vram_mb = job->spec.vram_mb,
                     .duration_ms = expected_run_ms(job->spec),
                     .gpus = job->spec.gpus});
    out.predicted_start_ms = predict_start(ahead).value_or(0);
  }
  return out;
}

std::int64_t Orchestrator::expected_run_ms(const core::JobSpec& spec) const {
  // The same task with the same parameters, else the task, else every run.
  auto it = run_s_by_task_.find(spec.task + "\n" + spec.params_json);
  if (it == run_s_by_task_.end()) it = run_s_by_task_.find(spec.task);
  double s = it == run_s_by_task_.end() ? mean_run_s_ : it->second;
  auto ms = static_cast<std::int64_t>(s * 1000.0);
  return spec.timeout_s > 0 ? std::min(ms, spec.timeout_s * 1000) : ms;
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
           .end_ms = j.started_at_ms + expected_run_ms(j.spec)});
    }
  }
  return core::predict_start_ms(now_ms(), gpus, running, queue, kPredictionLimit);
}

asio::awaitable<boost::system::result<JobView, SubmitError>> Orchestrator::submit_new(
    SubmitRequest req) {
  bool has_dependencies = !req.after_ok.empty() || !req.after_any.empty();
  if (has_dependencies) {
    auto deps = co_await settle_dependencies(req.after_ok, req.after_any);
    if (!deps) co_return SubmitError{SubmitErrc::store_failed, "", deps.error().message};
    if (!deps->unknown.empty()) {
      co_return SubmitError{SubmitErrc::unprocessable, "after",
                            fmt::format("after: no job {} to wait for", deps->unknown.front())};
    }
  }
  // The id is taken only once the job is valid and admitted: a refused request changes nothing,
  // not even the next id (nothing suspends between here and the increment).
  JobId id = next_id_;
  auto job = build_job(req, id);
  if (!job) co_return job.error();
  if (auto refused = admission_refusal(*job)) co_return *refused;
  ++next_id_;
  // Admitted past a full queue because it starts at once: its room is spoken for until the pass
  // after its save has started it, so that a burst of such jobs cannot all count on one GPU.
  std::vector<int> over_cap;
  if (static_cast<std::int64_t>(queue_.size() + parked_.size()) + saving_ >= config_.queue_max) {
    over_cap = start_gpus_now(*job);
    for (int g : over_cap)
      admitting_mb_.at(g) += job->spec.vram_mb;
  }
  std::optional<store::JobStore::IdempotencyRecord> key;
  if (!req.idempotency_key.empty()) {
    key = store::JobStore::IdempotencyRecord{.key = req.idempotency_key,
                                             .body_hash = req.body_hash,
                                             .job = id,
                                             .created_at_ms = job->submitted_at_ms};
  }
  ++saving_;
  core::Result<void> saved =
      co_await async_save(*store_, *job, std::move(key), asio::use_awaitable);
  --saving_;
  if (!saved) {
    for (int g : over_cap)
      admitting_mb_.at(g) -= job->spec.vram_mb;
    spdlog::error("job {}: not stored: {}", id, saved.error().message);
    co_return SubmitError{SubmitErrc::store_failed, "",
                          "the job could not be stored: " + saved.error().message};
  }
  log_submitted(*job);
  if (has_dependencies) {
    // Where its dependencies stand now (they may have ended while it was stored).
    auto deps = co_await settle_dependencies(job->spec.after_ok, job->spec.after_any);
    if (!deps) deps = Dependencies{.ok = job->spec.after_ok, .any = job->spec.after_any};
    place_dependent(*job, *deps);
  } else {
    enqueue(*job);
  }
  // Let the (coalesced) scheduling pass run first, so the answer shows the job's place.
  co_await asio::post(ioc_, asio::use_awaitable);
  for (int g : over_cap)
    admitting_mb_.at(g) -= job->spec.vram_mb;
  if (auto q = queued_job(id)) co_return view(*q);
  if (auto a = active_.find(id); a != active_.end()) co_return view(a->second);
  if (auto s = settling_.find(id); s != settling_.end()) co_return view(s->second);
  auto stored = co_await store_->async_get(id, asio::use_awaitable);
  if (stored && *stored) co_return view(**stored);
  co_return SubmitError{SubmitErrc::store_failed, "", "the job vanished after it was stored"};
}

void Orchestrator::log_submitted(const Job& job) const {
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

void Orchestrator::enqueue(const Job& job) {
  queue_.push({.id = job.id,
               .priority = job.spec.priority,
               .vram_mb = job.spec.vram_mb,
               .queued_at_ms = job.queued_at_ms,
               .held_gpus = {},
               .gpus = job.spec.gpus},
              core::pack_job(job));
  schedule_soon();
}

std::optional<Job> Orchestrator::queued_job(JobId id) const {
  const std::string* record = queue_.record(id);
  if (record == nullptr) record = parked_.record(id);
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
  if (auto it = settling_.find(id); it != settling_.end())
    co_return std::optional(view(it->second));
  auto stored = co_await store_->async_get(id, asio::use_awaitable);
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
  auto timer = std::make_shared<asio::steady_timer>(ioc_, wait);
  auto entry = waiters_.emplace(id, timer);
  co_await timer->async_wait(asio::as_tuple(asio::use_awaitable));
  waiters_.erase(entry);
  co_return co_await get(id);
}

void Orchestrator::notify_waiters(JobId id) {
  auto [begin, end] = waiters_.equal_range(id);
  for (auto it = begin; it != end; ++it)
    it->second->cancel();
}

bool Orchestrator::may_cancel(const Caller& caller, const Job& job) const {
  if (caller.may_act_on(job)) return true;
  spdlog::warn("job {}: cancel by {} refused: it belongs to {}", job.id, caller.name,
               job.spec.owner.empty() ? "nobody" : job.spec.owner);
  return false;
}

asio::awaitable<core::Result<CancelResult>> Orchestrator::cancel(JobId id, Caller caller) {
  // (No lambdas or declarations in conditions here: g++ 12 mis-destroys such temporaries in
  // coroutines.)
  std::optional<Job> queued = queued_job(id);
  if (queued) {
    if (!may_cancel(caller, *queued)) {
      co_return CancelResult{CancelOutcome::forbidden, view(*queued)};
    }
    spdlog::info("job {}: cancelled by {}", id, caller.name.empty() ? "a client" : caller.name);
    finish(id, JobState::cancelled, EndReason::cancelled, "cancelled before it started", {});
    co_return CancelResult{CancelOutcome::cancelled, view(settling_.at(id))};
  }
  auto it = active_.find(id);
  if (it != active_.end()) {
    if (!may_cancel(caller, it->second)) {
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
  if (auto it = settling_.find(id); it != settling_.end()) return it->second.attempt;
  return std::nullopt;
}

void Orchestrator::keep_attempt_logs(JobId id, int attempt) const {
  std::string dir = job_dir(id);
  for (std::string_view stream : {"stdout", "stderr"}) {
    std::error_code ec;
    std::filesystem::rename(log_path(dir, stream), attempt_log_path(dir, stream, attempt), ec);
  }
}

asio::awaitable<std::string> Orchestrator::read_log(JobId id, std::string_view stream,
                                                    std::int64_t offset, std::size_t max_bytes,
                                                    std::optional<int> earlier_attempt) {
  // Not a coroutine: a capturing lambda made inside a co_await expression has its captures
  // destroyed twice by g++ 12; here it is built in an ordinary function.
  std::string path = earlier_attempt ? attempt_log_path(job_dir(id), stream, *earlier_attempt)
                                     : log_path(job_dir(id), stream);
  return file_worker_.async_run(
      [path, offset, max_bytes] { return exec::read_range(path, offset, max_bytes); },
      asio::use_awaitable);
}

asio::awaitable<void> Orchestrator::wait_log(JobId id, std::uint64_t seen,
                                             std::chrono::milliseconds timeout) {
  co_await log_watcher_.wait(id, job_dir(id), seen, timeout);
}

asio::awaitable<std::string> Orchestrator::log_tail(JobId id, std::string_view stream,
                                                    std::size_t max_bytes) {
  std::string path = log_path(job_dir(id), stream);
  return file_worker_.async_run([path, max_bytes] { return exec::read_tail(path, max_bytes); },
                                asio::use_awaitable);
}

JobView Orchestrator::view(const Job& job) const {
  JobView v{.job = job, .job_dir = job_dir(job.id)};
  if (job.state == JobState::queued && parked_.contains(job.id)) {
    v.pending_reason = parked_.reason(job.id);  // not in the queue yet: no position
  } else if (job.state == JobState::queued) {
    if (auto place = queue_.place(job.id)) {
      v.queue_position = place->position;
      v.pending_reason = place->reason;
    }
  }
  return v;
}

std::vector<core::GpuView> Orchestrator::gpu_views() const {
  std::vector<core::GpuView> views;
  for (const gpu::GpuInfo& g : sample_.gpus) {
    views.push_back({.index = g.index,
                     .total_mb = g.total_mb,
                     .committed_mb = 0,
                     .foreign_mb = g.foreign_mb,
                     .known = gpu_error_.empty()});
  }
  for (const auto& [g, mb] : departed_mb_) {
    if (g >= 0 && g < static_cast<int>(views.size())) views[g].committed_mb += mb;
  }
  for (const auto& [id, r] : running_) {
    for (int g : r.gpus) {
      if (g < 0 || g >= static_cast<int>(views.size())) continue;
      auto m = r.measured_mb.find(g);
      views[g].committed_mb += std::max(r.reservation_mb, m == r.measured_mb.end() ? 0 : m->second);
    }
  }
  return views;
}

std::optional<std::int64_t> Orchestrator::Running::highest_mb() const {
  std::optional<std::int64_t> most;
  for (const auto& [g, mb] : measured_mb)
    most = std::max(most.value_or(mb), mb);
  return most;
}

std::vector<GpuStatus> Orchestrator::gpus() const {
  std::vector<core::GpuView> views = gpu_views();
  std::vector<GpuStatus> out;
  for (std::size_t i = 0; i < sample_.gpus.size(); ++i) {
    GpuStatus s{.info = sample_.gpus[i],
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
    out.push_back(std::move(s));
  }
  return out;
}

void Orchestrator::schedule_soon() {
  if (schedule_posted_) return;
  schedule_posted_ = true;
  asio::post(ioc_, [this] { schedule(); });
}

core::SchedulerConfig Orchestrator::scheduler_config() const {
  return {.buffer_mb = config_.vram_buffer_mb,
          .backfill_bound_ms = config_.backfill_bound_s * 1000};
}

core::Decisions Orchestrator::plan_now(std::span<const core::QueuedJob> queue) const {
  std::vector<core::GpuView> views = gpu_views();
  return core::plan({.queue = queue,
                     .gpus = views,
                     .now_ms = now_ms(),
                     .config = scheduler_config(),
                     .draining = draining_});
}

void Orchestrator::schedule() {
  schedule_posted_ = false;
  std::vector<core::GpuView> views = gpu_views();
  std::vector<core::StartDecision> starts = queue_.pass(
      core::Planner(views, now_ms(), scheduler_config(), draining_, queue_.min_vram_mb()));
  for (const core::StartDecision& s : starts) {
    // Decide, then act: re-check the invariant against the state as it is now, with every start
    // of this pass already applied.
    std::optional<Job> job = queued_job(s.job);
    if (!job) continue;
    std::vector<core::GpuView> now = gpu_views();
    bool fits = std::ranges::all_of(s.all_gpus(), [&](int g) {
      return now.at(g).known &&
             core::available_mb(now[g], config_.vram_buffer_mb) >= job->spec.vram_mb;
    });
    if (!fits) {
      ++recheck_failures_;
      spdlog::error("job {}: start on GPU {} failed the VRAM re-check; planning again", s.job,
                    fmt::join(s.all_gpus(), ","));
      queue_.set_reason(s.job, core::PendingReason::vram);
      schedule_soon();
      continue;
    }
    launch(std::move(*job), s);
  }
  if (!starts.empty()) request_sample();
}

void Orchestrator::launch(Job queued, const core::StartDecision& start) {
  std::vector<int> gpus = start.all_gpus();
  JobId id = queued.id;
  queue_.erase(id);
  Job& job = active_.insert_or_assign(id, std::move(queued)).first->second;
  std::string dir = job_dir(id);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    finish(id, JobState::failed, EndReason::spawn_failed,
           fmt::format("cannot create the job directory {}: {}", dir, ec.message()), {});
    return;
  }
  std::vector<std::string> uuids;
  uuids.reserve(gpus.size());
  for (int g : gpus)
    uuids.push_back(sample_.gpus.at(g).uuid);
  std::vector<std::pair<std::string, std::string>> extra = job.spec.env;
  // Every GPU of the job, in index order (CUDA numbers them 0..N-1 inside the job).
  extra.emplace_back("CUDA_VISIBLE_DEVICES", fmt::format("{}", fmt::join(uuids, ",")));
  extra.emplace_back("VRAMQ_JOB_ID", std::to_string(id));
  extra.emplace_back("VRAMQ_VRAM_MB", std::to_string(job.spec.vram_mb));
  extra.emplace_back("VRAMQ_GPU", std::to_string(gpus.front()));
  extra.emplace_back("VRAMQ_GPUS", fmt::format("{}", fmt::join(gpus, ",")));
  extra.emplace_back("VRAMQ_JOB_DIR", dir);
  std::string sim_file;
  if (gpu_kind_ == "sim") {
    sim_file = dir + "/sim-vram-mb";
    std::filesystem::remove(sim_file, ec);  // a retry starts without its last report
    extra.emplace_back("VRAMQ_SIM_VRAM_FILE", sim_file);
  }
  exec::LaunchSpec spec{.job = id,
                        .argv = job.spec.argv,
                        .cwd = job.spec.cwd,
                        .env = job_environment(extra),
                        .stdout_path = log_path(dir, "stdout"),
                        .stderr_path = log_path(dir, "stderr"),
                        .attempt = job.attempt,
                        .gpus = gpus};
  auto launched = executor_->start(spec, [this, id](exec::ExitStatus st) { on_exit(id, st); });
  if (!launched) {
    finish(id, JobState::failed, EndReason::spawn_failed, launched.error().message, {});
    return;
  }
  // Tests only: a server that dies between the spawn and the save of the start (the next start
  // must adopt the run, not start it a second time).
  if (crash_after_spawn_) ::raise(SIGKILL);
  job.state = JobState::running;
  job.gpu = gpus.front();
  job.gpus = gpus;
  job.started_at_ms = now_ms();
  job.pid = launched->pid;
  job.pid_start_ticks = launched->start_ticks;
  job.exit_code.reset();
  job.signal.reset();
  store_->save(job);
  Running r{.gpus = gpus, .reservation_mb = job.spec.vram_mb, .job_dir = dir};
  if (job.spec.timeout_s > 0) {
    r.timeout =
        std::make_unique<asio::steady_timer>(ioc_, std::chrono::seconds(job.spec.timeout_s));
    r.timeout->async_wait([this, id](const boost::system::error_code& e) {
      if (!e) stop_job(id, EndReason::timeout);
    });
  }
  running_.emplace(id, std::move(r));
  log_watcher_.wake(id);  // followers of a queued job can now watch its directory
  spdlog::info("job {}: started on GPU {} (pid {}, {} MiB reserved{})", id, fmt::join(gpus, ","),
               launched->pid, job.spec.vram_mb, gpus.size() > 1 ? " on each" : "");
}

void Orchestrator::stop_job(JobId id, EndReason why) {
  auto it = running_.find(id);
  if (it == running_.end() || it->second.stop_reason != EndReason::none) return;
  it->second.stop_reason = why;
  executor_->signal_group(id, SIGTERM);
  it->second.kill =
      std::make_unique<asio::steady_timer>(ioc_, std::chrono::seconds(config_.kill_grace_s));
  it->second.kill->async_wait([this, id](const boost::system::error_code& e) {
    if (!e) executor_->signal_group(id, SIGKILL);
  });
}

void Orchestrator::on_exit(JobId id, exec::ExitStatus status) {
  auto it = running_.find(id);
  if (it == running_.end()) return;
  EndReason stop = it->second.stop_reason;
  std::string stop_detail = std::move(it->second.stop_detail);
  if (!status.lost.empty()) spdlog::warn("job {}: {}", id, status.lost);
  std::string stdout_path = log_path(it->second.job_dir, "stdout");
  std::string stderr_path = log_path(it->second.job_dir, "stderr");
  // What it was last seen to use stays counted until a reading taken after its exit: a real
  // driver frees a dead process's memory only a moment later (then it shows as foreign), and
  // a job started into that memory at once could run out of it.
  for (const auto& [g, mb] : it->second.measured_mb)
    departed_mb_[g] += mb;
  if (!it->second.measured_mb.empty()) departed_until_sample_ = samples_started_ + 1;
  running_.erase(it);  // its reservation is free from now on; this also cancels its timers
  Job& job = active_.at(id);
  job.exit_code = status.exit_code;
  job.signal = status.signal;
  double ran_s = static_cast<double>(now_ms() - job.started_at_ms) / 1000.0;
  mean_run_s_ = 0.9 * mean_run_s_ + 0.1 * std::max(ran_s, 0.001);
  if (status.exit_code == 0) {  // whole runs only: how long this task takes, for predictions
    // Bounded: a flood of distinct parameters starts the averages afresh rather than grow them.
    if (run_s_by_task_.size() >= 10'000) run_s_by_task_.clear();
    for (const std::string& key : {job.spec.task, job.spec.task + "\n" + job.spec.params_json}) {
      auto [avg, fresh] = run_s_by_task_.try_emplace(key, ran_s);
      if (!fresh) avg->second = 0.7 * avg->second + 0.3 * std::max(ran_s, 0.001);
    }
  }

  core::RunOutcome outcome = core::run_outcome(
      {.why = stop, .detail = std::move(stop_detail), .timeout_s = job.spec.timeout_s}, status);
  int ran_attempt = job.attempt;
  ++finishing_;
  request_sample();
  schedule_soon();
  // The tail of stderr tells a CUDA out-of-memory death from any other failure.
  bool failed_by_itself = core::failed_by_itself(outcome.reason);
  struct Read {
    Output output;
    bool gpu_oom = false;
  };
  file_worker_.async_run(
      [stdout_path, stderr_path, failed_by_itself,
       limit = static_cast<std::size_t>(config_.output_limit_bytes)] {
        std::string err_tail = failed_by_itself ? exec::read_tail(stderr_path, 16 << 10) : "";
        std::error_code ec;
        auto size = std::filesystem::file_size(stdout_path, ec);
        return Read{.output = {.text = exec::read_tail(stdout_path, limit),
                               .truncated = !ec && size > limit},
                    .gpu_oom = core::looks_like_gpu_oom(err_tail)};
      },
      [this, id, outcome, ran_attempt](Read read) mutable {
        --finishing_;
        if (read.gpu_oom) {
          const Job& job = active_.at(id);
          outcome.reason = EndReason::gpu_oom;
          outcome.error = core::gpu_oom_error(job.spec.vram_mb, job.peak_vram_mb);
        }
        finish(id, outcome.state, outcome.reason, outcome.error, std::move(read.output),
               ran_attempt);
      });
}

void Orchestrator::finish(JobId id, JobState state, EndReason reason, std::string error,
                          Output output, std::optional<int> ran_attempt) {
  auto it = active_.find(id);
  if (it == active_.end()) {
    // A job that ends without having run (cancelled while queued) comes out of the queue.
    std::optional<Job> queued = queued_job(id);
    if (!queued) return;
    queue_.erase(id);
    parked_.erase(id);
    it = active_.emplace(id, std::move(*queued)).first;
  }
  Job& job = it->second;
  bool retry = core::should_retry(state, reason, job.attempt, job.spec.max_retries) &&
               core::can_transition(job.state, JobState::queued);
  // Once this save is durable, the executor may forget the run (its exit record goes with it).
  auto saved = [this, id, ran_attempt](const core::Result<void>& r) {
    if (!r) spdlog::error("job {}: new state not stored: {}", id, r.error().message);
    if (r && ran_attempt) executor_->release(id, *ran_attempt);
  };
  if (retry) {
    spdlog::info("job {}: attempt {} ended ({}); queued again", id, job.attempt,
                 core::to_string(reason));
    if (reason == EndReason::gpu_oom || reason == EndReason::vram_exceeded) {
      // It needed more than it reserved: ask for more next time (1.5x, or more than it was
      // seen to use), as much as the largest GPU can give.
      std::int64_t before = job.spec.vram_mb;
      job.spec.vram_mb = core::grown_reservation_mb(std::max(before, job.peak_vram_mb.value_or(0)),
                                                    largest_capacity_mb());
      error += fmt::format("; reservation {} -> {} MiB", before, job.spec.vram_mb);
    }
    job.error = fmt::format("attempt {}: {}; retrying", job.attempt, error);
    job.warnings.push_back(job.error);  // kept after a later attempt succeeds and clears `error`
    job.state = JobState::queued;
    keep_attempt_logs(id, job.attempt);  // each attempt's logs are kept: attempt-N.stdout.log
    job.attempt += 1;
    job.queued_at_ms = now_ms();
    job.output = std::move(output.text);
    job.output_truncated = output.truncated;
    job.not_before_ms = retry_at_ms(job);
    store_->save(job, saved);
    if (job.not_before_ms > 0) {
      park_delayed(job);
    } else {
      enqueue(job);
    }
    active_.erase(it);
    return;
  }
  if (!core::can_transition(job.state, state)) {
    spdlog::error("job {}: refused transition {} -> {}", id, core::to_string(job.state),
                  core::to_string(state));
    return;
  }
  job.state = state;
  job.reason = reason;
  job.error = std::move(error);
  job.output = std::move(output.text);
  job.output_truncated = output.truncated;
  job.finished_at_ms = now_ms();
  spdlog::info("job {}: {}{}{}", id, core::to_string(state), job.error.empty() ? "" : ": ",
               job.error);
  std::optional<store::JobStore::FootprintRecord> footprint = learn_from(job);
  Job& settled = settling_.insert_or_assign(id, std::move(job)).first->second;
  active_.erase(it);
  queue_.erase(id);
  store_->save(
      settled,
      [this, id, saved](const core::Result<void>& r) {
        saved(r);
        settling_.erase(id);
      },
      std::nullopt, std::move(footprint));
  notify_waiters(id);
  log_watcher_.forget(id);
  schedule_soon();
  release_dependents(id, state == JobState::succeeded);
}

void Orchestrator::request_sample() {
  if (sampling_) {
    resample_ = true;
    return;
  }
  sampling_ = true;
  std::vector<gpu::JobProbe> probes;
  for (const auto& [id, r] : running_) {
    probes.push_back({.job = id,
                      .gpus = r.gpus,
                      .reservation_mb = r.reservation_mb,
                      .pgid = active_.at(id).pid,
                      .sim_vram_file = gpu_kind_ == "sim" ? r.job_dir + "/sim-vram-mb" : ""});
  }
  std::uint64_t seq = ++samples_started_;
  gpu_worker_.async_run(
      [source = gpu_source_.get(), probes = std::move(probes)] { return source->sample(probes); },
      [this, seq](core::Result<gpu::GpuSample> s) { on_sample(std::move(s), seq); });
}

void Orchestrator::on_sample(core::Result<gpu::GpuSample> s, std::uint64_t seq) {
  sampling_ = false;
  // A reading begun after the last exits shows their memory as it is now (freed, or foreign).
  if (s && seq >= departed_until_sample_) departed_mb_.clear();
  if (!s) {
    if (gpu_error_.empty()) spdlog::error("GPU reading failed: {}", s.error().message);
    gpu_error_ = s.error().message;
  } else {
    if (!gpu_error_.empty()) spdlog::info("GPU readings are back");
    gpu_error_.clear();
    // Keep the GPU list stable: a reading with another device count is ignored.
    if (s->gpus.size() == sample_.gpus.size()) sample_ = std::move(*s);
    for (auto& [id, r] : running_) {
      auto m = sample_.job_used_mb.find(id);
      r.measured_mb = m == sample_.job_used_mb.end() ? std::map<int, std::int64_t>{} : m->second;
      if (std::optional<std::int64_t> highest = r.highest_mb()) {
        Job& job = active_.at(id);
        job.peak_vram_mb = std::max(job.peak_vram_mb.value_or(0), *highest);
      }
      guard_vram(id, r);
    }
  }
  schedule_soon();
  if (resample_) {
    resample_ = false;
    request_sample();
  }
}

void Orchestrator::guard_vram(JobId id, Running& r) {
  std::int64_t peak_before = r.over_use.peak_mb;
  core::VramVerdict verdict =
      core::judge_vram(r.reservation_mb, r.highest_mb(), now_ms(), vram_limits_, r.over_use);
  auto what = [&] {
    return fmt::format(
        "used up to {} MiB on GPU {}, above its reservation of {} MiB plus {:g}% for more than "
        "{} ms",
        r.over_use.peak_mb, fmt::join(r.gpus, ","), r.reservation_mb, vram_limits_.tolerance * 100,
        vram_limits_.grace_ms);
  };
  if (verdict == core::VramVerdict::act) {
    spdlog::warn("job {}: {}", id, what());
    if (vram_limits_.policy == core::VramPolicy::kill) {
      r.stop_detail = what();
      stop_job(id, EndReason::vram_exceeded);
      return;
    }
    Job& job = active_.at(id);
    r.warning_index = job.warnings.size();
    job.warnings.push_back(what());
    store_->save(job);
  } else if (r.warning_index && r.over_use.peak_mb > peak_before) {
    // Warned already (warn policy): the warning keeps quoting the peak as the job grows on.
    Job& job = active_.at(id);
    job.warnings.at(*r.warning_index) = what();
    store_->save(job);
  }
}

std::optional<store::JobStore::FootprintRecord> Orchestrator::learn_from(const Job& job) {
  // Only whole successful runs with a reading teach: a failed run may have died before its peak.
  if (job.state != JobState::succeeded || job.spec.task.empty() || !job.peak_vram_mb) {
    return std::nullopt;
  }
  const core::TaskDef* task = catalog_.find(job.spec.task);
  if (task == nullptr || !task->learn) return std::nullopt;
  store::JobStore::FootprintRecord f{
      .task = task->name,
      .bucket = core::footprint_bucket(task->vram, params_from_json(job.spec.params_json)),
      .peak_mb = *job.peak_vram_mb,
      .reserved_mb = job.spec.vram_mb};
  footprints_.add(f.task, f.bucket, {.peak_mb = f.peak_mb, .reserved_mb = f.reserved_mb});
  return f;
}

std::int64_t Orchestrator::largest_capacity_mb() const {
  std::int64_t most = 0;
  for (const gpu::GpuInfo& g : sample_.gpus)
    most = std::max(most, g.total_mb - config_.vram_buffer_mb);
  return most;
}

void Orchestrator::arm_poll_timer() {
  poll_timer_.expires_after(std::chrono::milliseconds(config_.gpu_poll_ms));
  poll_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    request_sample();
    if (now_ms() - keys_expired_at_ms_ > std::int64_t{3600} * 1000) {  // hourly: keys live 24 h
      keys_expired_at_ms_ = now_ms();
      store_->expire_keys(keys_expired_at_ms_ - kKeyLifetimeMs);
    }
    arm_poll_timer();
  });
}

asio::awaitable<void> Orchestrator::drain() {
  draining_ = true;
  poll_timer_.cancel();
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
  while (
      ((stop_jobs && !running_.empty()) || finishing_ > 0 || !settling_.empty() || saving_ > 0) &&
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
