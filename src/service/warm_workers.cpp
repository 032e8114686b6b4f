// Warm workers: starting them, serving runs, losing them (see warm_workers.hpp).
#include "service/warm_workers.hpp"

#include <signal.h>
#include <sys/stat.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <algorithm>
#include <boost/asio/post.hpp>
#include <filesystem>

#include "core/text.hpp"
#include "service/job_environment.hpp"
#include "service/job_paths.hpp"
#include "service/process_runs.hpp"
#include "util/confined_files.hpp"

namespace vramq::service {
namespace asio = boost::asio;
using core::EndReason;
using core::Job;
using core::JobId;
using core::WorkerId;
using core::WorkerState;

namespace {

// The executor knows a worker's process as a run whose job id is the worker's id negated.
JobId run_key(WorkerId id) {
  return -id;
}

std::string describe_exit(const exec::ExitStatus& st) {
  if (!st.lost.empty()) return st.lost;
  if (!st.spawn_error.empty()) return st.spawn_error;
  if (st.exit_code) return fmt::format("exited with code {}", *st.exit_code);
  if (st.signal) return fmt::format("was killed by signal {}", *st.signal);
  return "ended";
}

}  // namespace

WarmWorkers::WarmWorkers(Deps deps) : d_(std::move(deps)) {
  for (const core::TaskDef& t : d_.catalog.tasks()) {  // sorted by name, as tasks_ must be
    if (t.worker) tasks_.push_back(t.name);
  }
  health_.resize(tasks_.size());
}

void WarmWorkers::start(WorkerId max_stored) {
  next_id_ = max_stored + 1;
  util::remove_tree(d_.root);  // the workers (of users jobs run as) own what is in it
}

const core::TaskDef* WarmWorkers::task_of(const core::JobSpec& spec) const {
  if (spec.task.empty()) return nullptr;
  const core::TaskDef* t = d_.catalog.find(spec.task);
  return t != nullptr && t->worker ? t : nullptr;
}

int WarmWorkers::task_index(const core::JobSpec& spec) const {
  auto it = std::ranges::lower_bound(tasks_, spec.task);
  if (spec.task.empty() || it == tasks_.end() || *it != spec.task) return -1;
  return static_cast<int>(it - tasks_.begin());
}

std::optional<Refusal> WarmWorkers::refuses(const Job& job) const {
  if (job.spec.gpus > 1) {
    return Refusal{"gpus", fmt::format("gpus: task {} is served by warm workers, each on one GPU; "
                                       "its jobs take gpus = 1",
                                       job.spec.task)};
  }
  if (!d_.unavailable.empty() || d_.stderr_switch == nullptr) {
    return Refusal{"task", fmt::format("task: {} is served by warm workers, which run on the "
                                       "server's own host; {}",
                                       job.spec.task, d_.unavailable)};
  }
  return local_refusal(job, d_.readings.gpus(), d_.config.vram_buffer_mb);
}

std::optional<std::int64_t> WarmWorkers::start_need_mb(const Job& job, WorkerId worker) const {
  if (worker == 0) return job.spec.vram_mb;
  // A warm start needs what the run adds to what its idle worker holds.
  std::optional<std::int64_t> held = idle_held_mb(worker);
  if (!held) return std::nullopt;
  return std::max<std::int64_t>(0, job.spec.vram_mb - *held);
}

bool WarmWorkers::requeues_on_restart(const Job& job) const {
  const core::TaskDef* task = job.worker != 0 ? task_of(job.spec) : nullptr;
  return task != nullptr && task->worker->requeue_on_restart;
}

WarmWorkers::Worker* WarmWorkers::find(WorkerId id) {
  auto it = workers_.find(id);
  return it == workers_.end() ? nullptr : &it->second;
}

std::optional<exec::Launched> WarmWorkers::start(Job& job, const Placement& where) {
  int gpu = where.gpus.front();
  Worker* w = find(where.worker);
  std::int64_t uid = where.user != nullptr ? std::int64_t{where.user->uid} : -1;
  if (w != nullptr && w->uid != uid) {
    // The pass matched users (core::WorkerView::serves); should that ever be wrong, the run
    // must not see another user's worker.
    spdlog::error("job {}: worker {} runs as uid {}, the job as {}: it does not serve it", job.id,
                  w->id, w->uid, uid);
    d_.host.start_failed(job.id, "its warm worker runs as another user", EPERM, std::nullopt);
    return std::nullopt;
  }
  if (w != nullptr) {
    w->state = WorkerState::busy;
    w->job = job.id;
    w->timer.reset();  // no keep-alive or pings while it serves: its run has its own timeout
    w->ping_timer.reset();
  } else {
    w = launch(job, gpu, where);
    if (w == nullptr) return std::nullopt;
  }
  job.worker = w->id;
  return exec::Launched{.pid = static_cast<pid_t>(w->pid), .start_ticks = w->pid_start_ticks};
}

WarmWorkers::Worker* WarmWorkers::launch(Job& job, int gpu, const Placement& where) {
  const core::TaskDef* task = task_of(job.spec);
  WorkerId wid = next_id_++;
  ++d_.metrics.worker_loads[task->name];
  std::string wdir = fmt::format("{}/{}", d_.root, wid);
  std::error_code ec;
  std::filesystem::create_directories(wdir, ec);
  std::string why;
  int err = 0;
  if (ec) {
    err = ec.value();
    why = fmt::format("cannot create the worker's directory {}: {}", wdir, ec.message());
  }
  // As the job's run (Orchestrator::launch): a worker of another user owns its directory; it
  // serves only jobs that run as that user (core::WorkerView::serves).
  std::vector<std::pair<std::string, std::string>> extra;
  if (where.user != nullptr && why.empty()) {
    ::chmod(d_.root.c_str(), 0711);  // made with the server's umask: the worker passes through
    if (std::error_code given = util::give_dir(wdir, where.user->uid, where.user->gid)) {
      err = given.value();
      why = fmt::format("cannot give the worker's directory {} to {}: {}", wdir, where.user->name,
                        given.message());
    }
    extra = util::user_environment(*where.user);
  }
  // The worker's own environment: the task's, its GPU, and where it reports (no job's: those
  // values arrive with each run).
  extra.insert(extra.end(), task->env.begin(), task->env.end());
  for (const auto& [k, v] : where.env) {
    if (k == "CUDA_VISIBLE_DEVICES") extra.emplace_back(k, v);
  }
  extra.emplace_back("VRAMQ_GPU", std::to_string(gpu));
  extra.emplace_back("VRAMQ_WORKER_ID", std::to_string(wid));
  extra.emplace_back("VRAMQ_WORKER_DIR", wdir);
  if (d_.readings.simulated()) extra.emplace_back("VRAMQ_SIM_VRAM_FILE", wdir + "/sim-vram-mb");
  std::string cwd =
      task->cwd.find('{') == std::string::npos && !task->cwd.empty() ? task->cwd : wdir;
  std::optional<exec::Launched> launched;
  if (why.empty()) {
    auto started = d_.executor.start(
        {.job = run_key(wid),
         .argv = task->worker->argv,
         .cwd = cwd,
         .env = job_environment(extra),
         .stdout_path = "",
         .stderr_path = wdir + "/worker.log",
         .attempt = 1,
         .gpus = {gpu},
         .worker_stdio = true,
         .user = where.user != nullptr ? std::optional(*where.user) : std::nullopt},
        [this, wid](const exec::ExitStatus& st) { on_exit(wid, st); });
    if (started) {
      launched = *started;
    } else {
      err = started.error().errno_value;
      why =
          fmt::format("cannot start a worker for task {}: {}", task->name, started.error().message);
    }
  }
  if (!launched) {
    d_.host.start_failed(job.id, std::move(why), err, std::nullopt);
    return nullptr;
  }
  Worker& w = workers_[wid];
  w.id = wid;
  w.task = task->name;
  w.task_index = task_index(job.spec);
  w.gpu = gpu;
  w.uid = where.user != nullptr ? std::int64_t{where.user->uid} : -1;
  w.state = WorkerState::starting;
  w.pid = launched->pid;
  w.pid_start_ticks = launched->start_ticks;
  w.dir = wdir;
  w.job = job.id;
  w.held_mb = job.spec.vram_mb;
  w.started_at_ms = now_ms();
  w.last_used_ms = w.started_at_ms;
  w.channel = std::make_unique<WorkerChannel>(d_.ioc, launched->stdio_fd);
  w.channel->start([this, wid](const exec::WorkerMessage& m) { on_message(wid, m); },
                   [this, wid](std::string why, bool eof) {
                     if (eof) {
                       channel_lost(wid, std::move(why));
                     } else {
                       broken(wid, std::move(why));
                     }
                   });
  w.channel->send(exec::init_line({.worker = wid, .task = task->name, .gpu = gpu}));
  std::int64_t setup_s = task->worker->setup_timeout_s;
  w.timer = std::make_unique<ServiceTimer>(d_.ioc, std::chrono::seconds(setup_s));
  w.timer->async_wait([this, wid, setup_s](const boost::system::error_code& e) {
    if (!e) broken(wid, fmt::format("it did not say ready within {} s (setup_timeout_s)", setup_s));
  });
  spdlog::info("worker {} ({}): starting on GPU {} (pid {}) for job {}", wid, task->name, gpu,
               w.pid, job.id);
  return &w;
}

std::int64_t WarmWorkers::reservation_mb(const Job& job) const {
  // A run on a warm worker carries all the worker holds (more than the run's reservation when
  // the model stays larger): the ledger never drops below it, and enforcement judges against it.
  auto w = workers_.find(job.worker);
  return std::max(job.spec.vram_mb, w == workers_.end() ? 0 : w->second.held_mb);
}

void WarmWorkers::started(JobId id) {
  const Job& job = d_.host.job_of(id);
  spdlog::info("job {}: started on GPU {} (worker {}, {} MiB reserved)", id, job.gpu.value_or(-1),
               job.worker, job.spec.vram_mb);
  Worker* w = find(job.worker);
  if (w != nullptr && w->state == WorkerState::busy) begin_run(*w);  // a new one: once ready
}

void WarmWorkers::begin_run(Worker& w) {
  w.state = WorkerState::busy;
  w.timer.reset();
  // The run's stderr is its job's log; its stdout is the protocol (the result becomes stdout.log).
  // The run goes to the worker only once the log is in place: nothing it writes for this run
  // lands in the worker's own log, nothing from before in the run's.
  WorkerId wid = w.id;
  JobId id = w.job;
  d_.stderr_switch->redirect_stderr(run_key(wid), log_path(d_.host.run_of(id)->job_dir, "stderr"),
                                    [this, wid, id] { send_run(wid, id); });
}

void WarmWorkers::send_run(WorkerId wid, JobId id) {
  Worker* w = find(wid);
  Run* r = d_.host.run_of(id);
  if (w == nullptr || w->job != id || r == nullptr) return;  // the run ended meanwhile
  const Job& job = d_.host.job_of(id);
  if (r->stop_reason != EndReason::none) {
    // Cancelled (or timed out) before it was sent: it ends here, and the worker is free for the
    // next run.
    end_run(id, w, core::worker_run_outcome(r->stop_request(job.spec.timeout_s), {}), {});
    return;
  }
  w->run_sent = true;
  std::int64_t deadline =
      job.spec.timeout_s > 0 ? job.started_at_ms + job.spec.timeout_s * 1000 : 0;
  w->channel->send(exec::run_line({.job = id,
                                   .attempt = job.attempt,
                                   .params_json = job.spec.params_json,
                                   .job_dir = r->job_dir,
                                   .deadline_ms = deadline,
                                   .vram_mb = job.spec.vram_mb,
                                   .env = job.spec.env}));
}

void WarmWorkers::on_message(WorkerId id, const exec::WorkerMessage& m) {
  Worker* found = find(id);
  if (found == nullptr) return;
  Worker& w = *found;
  using T = exec::WorkerMessageType;
  switch (m.type) {
    case T::ready:
      if (w.state != WorkerState::starting) return;  // said twice: nothing more to do
      spdlog::info("worker {} ({}): ready after {} ms", id, w.task, now_ms() - w.started_at_ms);
      w.last_used_ms = now_ms();
      if (w.job == 0) {  // its run ended (cancelled, timed out) while it loaded
        w.state = WorkerState::idle;
        arm_idle(w);
        d_.host.schedule_soon();
        return;
      }
      begin_run(w);
      return;
    case T::pong:
      w.last_pong = std::max(w.last_pong, m.seq);
      return;
    case T::fatal:
      broken(id, fmt::format("it reported a fatal error: {}", m.text));
      return;
    case T::progress:
      if (Run* r = m.job == w.job ? d_.host.run_of(m.job) : nullptr) {
        r->set_progress(d_.host.job_of(m.job),
                        {.fraction = m.fraction,
                         .message = core::printable_prefix(m.text, core::kProgressMessageBytes)});
      }
      return;
    case T::result:
    case T::error:
    case T::cancelled:
      on_answer(w, m);
      return;
  }
}

void WarmWorkers::on_answer(Worker& w, const exec::WorkerMessage& m) {
  using T = exec::WorkerMessageType;
  if (w.state == WorkerState::busy && w.run_sent && m.job != w.job) {
    // Every run it was sent ends with its answer or its death: another job's id is a lie.
    broken(w.id, fmt::format("it answered for job {} while serving job {}", m.job, w.job));
    return;
  }
  // An answer for a run that has already ended here is ignored.
  if (w.state != WorkerState::busy || m.job != w.job) return;
  const Run& r = *d_.host.run_of(w.job);
  core::WorkerRunEnd end{.kind = m.type == T::result  ? core::WorkerRunEnd::Kind::result
                                 : m.type == T::error ? core::WorkerRunEnd::Kind::error
                                                      : core::WorkerRunEnd::Kind::cancelled,
                         .message = m.text,
                         .retryable = m.retryable,
                         .exit = {}};
  const Job& job = d_.host.job_of(w.job);
  core::RunOutcome outcome = core::worker_run_outcome(r.stop_request(job.spec.timeout_s), end);
  if (m.type == T::error) {
    core::relabel_gpu_oom(outcome, m.text, job.spec.vram_mb, job.peak_vram_mb);
  }
  if (m.type == T::result) health_[static_cast<std::size_t>(w.task_index)] = {};
  end_run(w.job, &w, std::move(outcome), m.type == T::result ? m.text : std::string{});
}

void WarmWorkers::end_run(JobId id, Worker* worker, core::RunOutcome outcome, std::string result) {
  Run* r = d_.host.run_of(id);
  if (r == nullptr) return;
  if (worker != nullptr) {
    Worker& w = *worker;
    w.run_sent = false;
    d_.stderr_switch->redirect_stderr(run_key(w.id), w.dir + "/worker.log", {});
    w.job = 0;
    // What it keeps between runs: its run's reservation until a reading taken while it is idle
    // says what it really holds.
    w.held_mb = std::max(d_.host.job_of(id).spec.vram_mb, r->highest_mb().value_or(0));
    w.measured_mb.reset();
    if (w.state == WorkerState::busy) {
      ++w.runs;
      w.last_used_ms = now_ms();
      w.state = WorkerState::idle;
      arm_idle(w);
    }
  }
  // Its reservation is the worker's again (or freed with it). The result's text is the run's
  // stdout.
  d_.host.end_run(id, {.outcome = std::move(outcome),
                       .ran_attempt = std::nullopt,
                       .result = std::move(result),
                       .evidence_log = "",
                       .quote_evidence = false,
                       .peak_file = ""});
}

void WarmWorkers::on_exit(WorkerId id, const exec::ExitStatus& exit) {
  Worker* found = find(id);
  if (found == nullptr) return;
  Worker& w = *found;
  d_.executor.release(run_key(id), 1);
  std::string what = w.failure.empty() ? describe_exit(exit) : w.failure;
  WorkerState was = w.state;
  if (was == WorkerState::unloading && !w.abnormal) {
    spdlog::info("worker {} ({}): unloaded ({})", id, w.task, w.unload_reason);
  } else {
    spdlog::warn("worker {} ({}) {} while {}", id, w.task, what, core::to_string(was));
    // It died on its own (or hung): its task's next worker waits a back-off that grows while
    // its workers keep dying.
    TaskHealth& h = health_[static_cast<std::size_t>(w.task_index)];
    ++h.crashes;
    std::int64_t backoff_ms = core::host_failure_backoff_ms(h.crashes);
    h.not_before_ms = now_ms() + backoff_ms;
    h.over = std::make_unique<ServiceTimer>(d_.ioc, std::chrono::milliseconds(backoff_ms));
    h.over->async_wait([this](const boost::system::error_code& e) {
      if (!e) d_.host.schedule_soon();
    });
  }
  // Its memory stays counted until a reading begun after its exit.
  JobId job = w.job;
  Run* r = job != 0 ? d_.host.run_of(job) : nullptr;
  std::int64_t last_mb =
      r != nullptr ? r->highest_mb().value_or(0) : std::max(w.measured_mb.value_or(0), w.held_mb);
  if (last_mb > 0) d_.readings.departed({{w.gpu, last_mb}});
  std::string log = r != nullptr && was == WorkerState::busy ? log_path(r->job_dir, "stderr")
                                                             : w.dir + "/worker.log";
  std::string during = was == WorkerState::starting ? "its setup" : "the run";
  std::string task = w.task;
  d_.feed.worker_gone(status(w));
  workers_.erase(id);
  d_.host.schedule_soon();
  d_.readings.request();
  if (r == nullptr) return;
  const Job& j = d_.host.job_of(job);
  // The log's tail says what happened (and tells an out-of-memory death).
  d_.host.end_run(
      job, {.outcome = core::worker_run_outcome(
                r->stop_request(j.spec.timeout_s),
                {.kind = core::WorkerRunEnd::Kind::crashed,
                 .message = fmt::format("its worker {} ({}) {} during {}", id, task, what, during),
                 .retryable = false,
                 .exit = exit}),
            .ran_attempt = std::nullopt,
            .result = std::string{},
            .evidence_log = log,
            .quote_evidence = true,
            .peak_file = ""});
}

void WarmWorkers::channel_lost(WorkerId id, std::string why) {
  Worker* w = find(id);
  if (w == nullptr || w->state == WorkerState::unloading) return;  // its exit comes
  // Its stdout closed: it is most likely dying, and its exit says how. One that lives on
  // without its stdout is stopped after the grace.
  spdlog::debug("worker {} ({}): {}", id, w->task, why);
  w->abnormal = true;
  if (w->state == WorkerState::idle) {  // no run may go to it any more
    w->state = WorkerState::unloading;
    w->unload_reason = why;
    w->ping_timer.reset();
  }
  w->timer = std::make_unique<ServiceTimer>(d_.ioc, std::chrono::seconds(d_.config.kill_grace_s));
  w->timer->async_wait(
      [this, id, why = std::move(why)](const boost::system::error_code& e) mutable {
        if (!e) broken(id, std::move(why));
      });
}

void WarmWorkers::broken(WorkerId id, std::string why) {
  Worker* w = find(id);
  if (w == nullptr || !w->failure.empty()) return;
  spdlog::warn("worker {} ({}): {}; stopping it", id, w->task, why);
  w->abnormal = true;
  if (w->state == WorkerState::idle) {  // never shown idle, never given a run again
    w->state = WorkerState::unloading;
    w->unload_reason = why;
  }
  w->failure = std::move(why);
  w->timer.reset();
  w->ping_timer.reset();
  if (w->channel) w->channel->close();
  d_.executor.signal_group(run_key(id), SIGKILL);
}

void WarmWorkers::stop(JobId id, Run& r) {
  Worker* w = find(d_.host.job_of(id).worker);
  if (w == nullptr) return;
  WorkerId wid = w->id;
  if (w->state == WorkerState::starting) {
    // Nothing runs yet: the job ends, and the worker finishes loading for the next run. Posted:
    // the caller may be walking the runs (a reading's enforcement).
    asio::post(d_.ioc, [this, id, wid] {
      Worker* w2 = find(wid);
      Run* r2 = d_.host.run_of(id);
      if (w2 == nullptr || w2->job != id || r2 == nullptr || w2->state != WorkerState::starting) {
        return;  // ready meanwhile: its run went out and its cancel follows the usual way
      }
      const Job& job = d_.host.job_of(id);
      w2->held_mb = job.spec.vram_mb;
      end_run(id, w2, core::worker_run_outcome(r2->stop_request(job.spec.timeout_s), {}), {});
    });
    return;
  }
  // Not sent yet: send_run ends it instead. Sent: the worker is asked to stop it.
  if (w->run_sent) w->channel->send(exec::cancel_line(id));
  // A worker that does not answer (or whose log switch is never answered) within the grace is
  // stopped, and the run with it.
  r.kill = std::make_unique<ServiceTimer>(d_.ioc, std::chrono::seconds(r.stop_grace_s));
  r.kill->async_wait([this, wid, grace = r.stop_grace_s](const boost::system::error_code& e) {
    if (!e) broken(wid, fmt::format("it did not answer a cancel within {} s", grace));
  });
}

gpu::JobProbe WarmWorkers::probe(JobId id, const Run& r) const {
  // A run on a warm worker is measured as the worker's processes. (Its worker may be gone
  // already while the run's end is being recorded.)
  const Job& job = d_.host.job_of(id);
  auto w = workers_.find(job.worker);
  std::string sim_dir = w != workers_.end() ? w->second.dir : r.job_dir;
  return {.job = id,
          .gpus = r.gpus,
          .reservation_mb = r.reservation_mb,
          .pgid = job.pid,
          .sim_vram_file = d_.readings.simulated() ? sim_dir + "/sim-vram-mb" : "",
          .usage_file = ""};
}

void WarmWorkers::measured(JobId id, std::int64_t mb) {
  if (Worker* w = find(d_.host.job_of(id).worker)) w->peak_mb = std::max(w->peak_mb, mb);
}

void WarmWorkers::adopt(JobId id, exec::Survivor& run) {
  // Workers end with the server that spoke to them (recovery requeues or fails their runs).
  spdlog::error("job {}: a warm worker's run cannot be adopted", id);
  d_.executor.release(id, run.attempt);
}

}  // namespace vramq::service
