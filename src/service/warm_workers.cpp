// Orchestrator: warm workers (issue 12, docs/workers.md). A task with a [worker] section has its
// runs served by long-lived processes that load the model once. A worker is started for a run
// that found no idle one (`starting`, bound to that run), serves it once `ready` (`busy`), then
// waits for the next run of its task (`idle`, pinged, unloaded after keep_alive_s), and is
// unloaded (`unloading`: `shutdown`, then SIGTERM and SIGKILL) when idle too long, when the
// scheduler needs its memory for another job (core::Planner::make_room), on DELETE, or when the
// server stops. Its memory is in the ledger all along: through its run while it serves one, as
// its own (held_mb) otherwise; it counts as released only once its processes are gone and a
// reading begun after that shows where the memory went (departed_mb_, as for a job's exit).
// A worker that dies, breaks the protocol or hangs fails the run it served (worker_crashed) and
// makes its task wait a back-off before the next worker (worker_backoff). Idle workers (pings,
// keep-alive, unload on request) and the status views: idle_workers.cpp.
#include <signal.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <algorithm>
#include <filesystem>
#include <fstream>

#include "core/run_outcome.hpp"
#include "core/text.hpp"
#include "service/job_environment.hpp"
#include "service/job_paths.hpp"
#include "service/orchestrator.hpp"
#include "util/untrusted_files.hpp"

namespace vramq::service {
namespace asio = boost::asio;
using core::EndReason;
using core::Job;
using core::JobId;
using core::JobState;
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

const core::TaskDef* Orchestrator::worker_task(const core::JobSpec& spec) const {
  if (spec.task.empty()) return nullptr;
  const core::TaskDef* t = catalog_.find(spec.task);
  return t != nullptr && t->worker ? t : nullptr;
}

int Orchestrator::worker_task_index(const core::JobSpec& spec) const {
  auto it = std::ranges::lower_bound(worker_tasks_, spec.task);
  if (spec.task.empty() || it == worker_tasks_.end() || *it != spec.task) return -1;
  return static_cast<int>(it - worker_tasks_.begin());
}

core::WorkerView Orchestrator::worker_view() const {
  core::WorkerView v;
  for (std::size_t i = 0; i < worker_tasks_.size(); ++i) {
    v.tasks.push_back({.max_workers = catalog_.find(worker_tasks_[i])->worker->max_workers,
                       .resident = 0,
                       .not_before_ms = worker_health_[i].not_before_ms});
  }
  v.unloading_mb.assign(sample_.gpus.size(), 0);
  for (const auto& [id, w] : workers_) {
    if (w.state == WorkerState::unloading) {
      if (w.gpu >= 0 && w.gpu < std::ssize(v.unloading_mb)) v.unloading_mb[w.gpu] += w.held_mb;
      continue;
    }
    ++v.tasks[static_cast<std::size_t>(w.task_index)].resident;
    if (w.state == WorkerState::idle) {
      v.idle.push_back({.id = id,
                        .task = w.task_index,
                        .gpu = w.gpu,
                        .held_mb = w.held_mb,
                        .last_used_ms = w.last_used_ms});
    }
  }
  return v;
}

bool Orchestrator::start_on_worker(JobId id, WorkerId worker, int gpu,
                                   const std::vector<std::pair<std::string, std::string>>& env) {
  Job& job = active_.at(id);
  const core::TaskDef* task = worker_task(job.spec);
  if (worker != 0) {
    Worker& w = workers_.at(worker);
    w.state = WorkerState::busy;
    w.job = id;
    w.timer.reset();  // no keep-alive or pings while it serves: its run has its own timeout
    w.ping_timer.reset();
    job.worker = worker;
    return true;
  }
  WorkerId wid = next_worker_id_++;
  ++metrics_.worker_loads[task->name];
  std::string wdir = fmt::format("{}/{}", workers_root_, wid);
  std::error_code ec;
  std::filesystem::create_directories(wdir, ec);
  std::string why;
  int err = 0;
  if (ec) {
    err = ec.value();
    why = fmt::format("cannot create the worker's directory {}: {}", wdir, ec.message());
  }
  // The worker's own environment: the task's, its GPU, and where it reports (no job's: those
  // values arrive with each run).
  std::vector<std::pair<std::string, std::string>> extra = task->env;
  for (const auto& [k, v] : env) {
    if (k == "CUDA_VISIBLE_DEVICES") extra.emplace_back(k, v);
  }
  extra.emplace_back("VRAMQ_GPU", std::to_string(gpu));
  extra.emplace_back("VRAMQ_WORKER_ID", std::to_string(wid));
  extra.emplace_back("VRAMQ_WORKER_DIR", wdir);
  if (gpu_kind_ == "sim") extra.emplace_back("VRAMQ_SIM_VRAM_FILE", wdir + "/sim-vram-mb");
  std::string cwd =
      task->cwd.find('{') == std::string::npos && !task->cwd.empty() ? task->cwd : wdir;
  std::optional<exec::Launched> launched;
  if (why.empty()) {
    auto started =
        executor_->start({.job = run_key(wid),
                          .argv = task->worker->argv,
                          .cwd = cwd,
                          .env = job_environment(extra),
                          .stdout_path = "",
                          .stderr_path = wdir + "/worker.log",
                          .attempt = 1,
                          .gpus = {gpu},
                          .worker_stdio = true},
                         [this, wid](const exec::ExitStatus& st) { on_worker_exit(wid, st); });
    if (started) {
      launched = *started;
    } else {
      err = started.error().errno_value;
      why =
          fmt::format("cannot start a worker for task {}: {}", task->name, started.error().message);
    }
  }
  if (!launched) {
    if (core::is_host_error(err)) {
      requeue_unstarted(id, std::move(why), std::nullopt);
    } else {
      finish(id, JobState::failed, EndReason::spawn_failed, std::move(why), {});
    }
    return false;
  }
  Worker& w = workers_[wid];
  w.id = wid;
  w.task = task->name;
  w.task_index = worker_task_index(job.spec);
  w.gpu = gpu;
  w.state = WorkerState::starting;
  w.pid = launched->pid;
  w.pid_start_ticks = launched->start_ticks;
  w.dir = wdir;
  w.job = id;
  w.held_mb = job.spec.vram_mb;
  w.started_at_ms = now_ms();
  w.last_used_ms = w.started_at_ms;
  w.channel = std::make_unique<WorkerChannel>(ioc_, launched->stdio_fd);
  w.channel->start([this, wid](const exec::WorkerMessage& m) { on_worker_message(wid, m); },
                   [this, wid](std::string why, bool eof) {
                     if (eof) {
                       channel_lost(wid, std::move(why));
                     } else {
                       worker_broken(wid, std::move(why));
                     }
                   });
  w.channel->send(exec::init_line({.worker = wid, .task = task->name, .gpu = gpu}));
  std::int64_t setup_s = task->worker->setup_timeout_s;
  w.timer = std::make_unique<ServiceTimer>(ioc_, std::chrono::seconds(setup_s));
  w.timer->async_wait([this, wid, setup_s](const boost::system::error_code& e) {
    if (!e) {
      worker_broken(wid,
                    fmt::format("it did not say ready within {} s (setup_timeout_s)", setup_s));
    }
  });
  job.worker = wid;
  spdlog::info("worker {} ({}): starting on GPU {} (pid {}) for job {}", wid, task->name, gpu,
               w.pid, id);
  return true;
}

void Orchestrator::begin_run(Worker& w) {
  w.state = WorkerState::busy;
  w.timer.reset();
  // The run's stderr is its job's log; its stdout is the protocol (the result becomes stdout.log).
  // The run goes to the worker only once the log is in place: nothing it writes for this run
  // lands in the worker's own log, nothing from before in the run's.
  WorkerId wid = w.id;
  JobId id = w.job;
  executor_->redirect_stderr(
      run_key(wid), log_path(running_.at(id).job_dir, "stderr"), [this, wid, id] {
        auto it = workers_.find(wid);
        auto r = running_.find(id);
        if (it == workers_.end() || it->second.job != id || r == running_.end()) {
          return;  // the run ended meanwhile (its worker died)
        }
        const Job& job = active_.at(id);
        if (r->second.stop_reason != EndReason::none) {
          // Cancelled (or timed out) before it was sent: it ends here,
          // and the worker is free for the next run.
          core::RunOutcome outcome = core::worker_run_outcome({.why = r->second.stop_reason,
                                                               .detail = r->second.stop_detail,
                                                               .timeout_s = job.spec.timeout_s},
                                                              {});
          end_worker_run(id, &it->second, outcome.state, outcome.reason, std::move(outcome.error),
                         {});
          return;
        }
        it->second.run_sent = true;
        std::int64_t deadline =
            job.spec.timeout_s > 0 ? job.started_at_ms + job.spec.timeout_s * 1000 : 0;
        it->second.channel->send(exec::run_line({.job = id,
                                                 .attempt = job.attempt,
                                                 .params_json = job.spec.params_json,
                                                 .job_dir = r->second.job_dir,
                                                 .deadline_ms = deadline,
                                                 .vram_mb = job.spec.vram_mb,
                                                 .env = job.spec.env}));
      });
}

void Orchestrator::on_worker_message(WorkerId id, const exec::WorkerMessage& m) {
  auto it = workers_.find(id);
  if (it == workers_.end()) return;
  Worker& w = it->second;
  using T = exec::WorkerMessageType;
  switch (m.type) {
    case T::ready:
      if (w.state != WorkerState::starting) return;  // said twice: nothing more to do
      spdlog::info("worker {} ({}): ready after {} ms", id, w.task, now_ms() - w.started_at_ms);
      w.last_used_ms = now_ms();
      if (w.job == 0) {  // its run ended (cancelled, timed out) while it loaded
        w.state = WorkerState::idle;
        arm_idle(w);
        schedule_soon();
        return;
      }
      begin_run(w);
      return;
    case T::pong:
      w.last_pong = std::max(w.last_pong, m.seq);
      return;
    case T::fatal:
      worker_broken(id, fmt::format("it reported a fatal error: {}", m.text));
      return;
    case T::progress:
      if (auto r = running_.find(m.job); r != running_.end() && m.job == w.job) {
        core::Progress p{.fraction = m.fraction,
                         .message = core::printable_prefix(m.text, core::kProgressMessageBytes)};
        set_progress(m.job, r->second, std::move(p));
      }
      return;
    case T::result:
    case T::error:
    case T::cancelled:
      break;
  }
  if (w.state == WorkerState::busy && w.run_sent && m.job != w.job) {
    // Every run it was sent ends with its answer or its death: another job's id is a lie.
    worker_broken(id, fmt::format("it answered for job {} while serving job {}", m.job, w.job));
    return;
  }
  // An answer for a run that has already ended here is ignored.
  if (w.state != WorkerState::busy || m.job != w.job) return;
  Running& r = running_.at(w.job);
  core::WorkerRunEnd end{.kind = m.type == T::result  ? core::WorkerRunEnd::Kind::result
                                 : m.type == T::error ? core::WorkerRunEnd::Kind::error
                                                      : core::WorkerRunEnd::Kind::cancelled,
                         .message = m.text,
                         .retryable = m.retryable,
                         .exit = {}};
  const Job& job = active_.at(w.job);
  core::RunOutcome outcome = core::worker_run_outcome(
      {.why = r.stop_reason, .detail = r.stop_detail, .timeout_s = job.spec.timeout_s}, end);
  if (m.type == T::error) {
    core::relabel_gpu_oom(outcome, m.text, job.spec.vram_mb, job.peak_vram_mb);
  }
  if (m.type == T::result) worker_health_[static_cast<std::size_t>(w.task_index)] = {};
  end_worker_run(w.job, &w, outcome.state, outcome.reason, std::move(outcome.error),
                 m.type == T::result ? m.text : std::string{});
}

void Orchestrator::end_worker_run(JobId id, Worker* worker, JobState state, EndReason reason,
                                  std::string error, std::string output) {
  auto rit = running_.find(id);
  if (rit == running_.end()) return;
  std::string dir = rit->second.job_dir;
  if (worker != nullptr) {
    Worker& w = *worker;
    w.run_sent = false;
    executor_->redirect_stderr(run_key(w.id), w.dir + "/worker.log", {});
    w.job = 0;
    // What it keeps between runs: its run's reservation until a reading taken while it is idle
    // says what it really holds.
    w.held_mb = std::max(active_.at(id).spec.vram_mb, rit->second.highest_mb().value_or(0));
    w.measured_mb.reset();
    if (w.state == WorkerState::busy) {
      ++w.runs;
      w.last_used_ms = now_ms();
      w.state = WorkerState::idle;
      arm_idle(w);
    }
  }
  running_.erase(rit);  // its reservation is the worker's again (or freed with it)
  Job& job = active_.at(id);
  note_run_time(job, state == JobState::succeeded);
  ++finishing_;
  request_sample();
  schedule_soon();
  // The result's text is the run's stdout (its `output`), written off the loop.
  file_worker_.async_run(
      [path = log_path(dir, "stdout"), output = std::move(output),
       limit = static_cast<std::size_t>(config_.output_limit_bytes)] {
        {
          std::ofstream out(path, std::ios::binary | std::ios::trunc);
          out << output;  // a full disk loses it from the log; the job keeps its tail
        }
        bool truncated = output.size() > limit;
        return Output{.text = truncated ? output.substr(output.size() - limit) : output,
                      .truncated = truncated};
      },
      [this, id, state, reason, error = std::move(error)](Output out) mutable {
        --finishing_;
        finish(id, state, reason, std::move(error), std::move(out));
      });
}

void Orchestrator::on_worker_exit(WorkerId id, const exec::ExitStatus& status) {
  auto it = workers_.find(id);
  if (it == workers_.end()) return;
  Worker& w = it->second;
  executor_->release(run_key(id), 1);
  std::string what = w.failure.empty() ? describe_exit(status) : w.failure;
  WorkerState was = w.state;
  if (was == WorkerState::unloading && !w.abnormal) {
    spdlog::info("worker {} ({}): unloaded ({})", id, w.task, w.unload_reason);
  } else {
    spdlog::warn("worker {} ({}) {} while {}", id, w.task, what, core::to_string(was));
    // It died on its own (or hung): its task's next worker waits a back-off that grows while
    // its workers keep dying.
    WorkerTaskHealth& h = worker_health_[static_cast<std::size_t>(w.task_index)];
    ++h.crashes;
    h.not_before_ms = now_ms() + core::host_failure_backoff_ms(h.crashes);
  }
  // Its memory stays counted until a reading begun after its exit.
  std::int64_t last_mb = std::max(w.measured_mb.value_or(0), w.held_mb);
  if (w.job != 0) {
    if (auto r = running_.find(w.job); r != running_.end())
      last_mb = r->second.highest_mb().value_or(0);
  }
  if (last_mb > 0) {
    departed_mb_[w.gpu] += last_mb;
    departed_until_sample_ = samples_started_ + 1;
  }
  JobId job = w.job;
  std::string log = job != 0 && was == WorkerState::busy
                        ? log_path(running_.at(job).job_dir, "stderr")
                        : w.dir + "/worker.log";
  std::string during = was == WorkerState::starting ? "its setup" : "the run";
  std::string task = w.task;
  feed_.worker_gone(worker_status(w));
  workers_.erase(it);
  schedule_soon();
  request_sample();
  if (job == 0 || !running_.contains(job)) return;
  Running& r = running_.at(job);
  const Job& j = active_.at(job);
  core::RunOutcome outcome = core::worker_run_outcome(
      {.why = r.stop_reason, .detail = r.stop_detail, .timeout_s = j.spec.timeout_s},
      {.kind = core::WorkerRunEnd::Kind::crashed,
       .message = fmt::format("its worker {} ({}) {} during {}", id, task, what, during),
       .retryable = false,
       .exit = status});
  ++finishing_;
  // The log's tail says what happened (and tells an out-of-memory death).
  file_worker_.async_run(
      [log] { return util::read_tail(log, 16 << 10); },
      [this, job, outcome](const std::string& tail) mutable {
        --finishing_;
        if (!active_.contains(job)) return;
        if (outcome.reason == EndReason::worker_crashed) {
          const Job& j = active_.at(job);
          if (!core::relabel_gpu_oom(outcome, tail, j.spec.vram_mb, j.peak_vram_mb)) {
            std::string_view t = tail;
            if (t.size() > 2000) t = t.substr(t.size() - 2000);
            if (!t.empty()) outcome.error += fmt::format("; its log ends: {}", t);
          }
        }
        end_worker_run(job, nullptr, outcome.state, outcome.reason, std::move(outcome.error), {});
      });
}

void Orchestrator::channel_lost(WorkerId id, std::string why) {
  auto it = workers_.find(id);
  if (it == workers_.end()) return;
  Worker& w = it->second;
  if (w.state == WorkerState::unloading) return;  // it is on its way out: its exit comes
  // Its stdout closed: it is most likely dying, and its exit says how. One that lives on
  // without its stdout is stopped after the grace.
  spdlog::debug("worker {} ({}): {}", id, w.task, why);
  w.abnormal = true;
  if (w.state == WorkerState::idle) {  // no run may go to it any more
    w.state = WorkerState::unloading;
    w.unload_reason = why;
    w.ping_timer.reset();
  }
  w.timer = std::make_unique<ServiceTimer>(ioc_, std::chrono::seconds(config_.kill_grace_s));
  w.timer->async_wait([this, id, why = std::move(why)](const boost::system::error_code& e) mutable {
    if (!e) worker_broken(id, std::move(why));
  });
}

void Orchestrator::worker_broken(WorkerId id, std::string why) {
  auto it = workers_.find(id);
  if (it == workers_.end()) return;
  Worker& w = it->second;
  if (!w.failure.empty()) return;
  spdlog::warn("worker {} ({}): {}; stopping it", id, w.task, why);
  w.abnormal = true;
  if (w.state == WorkerState::idle) {  // never shown idle, never given a run again
    w.state = WorkerState::unloading;
    w.unload_reason = why;
  }
  w.failure = std::move(why);
  w.timer.reset();
  w.ping_timer.reset();
  if (w.channel) w.channel->close();
  executor_->signal_group(run_key(id), SIGKILL);
}

void Orchestrator::unload_worker(Worker& w, std::string why) {
  if (w.state == WorkerState::unloading) return;
  spdlog::info("worker {} ({}): unloading from GPU {}: {}", w.id, w.task, w.gpu, why);
  w.state = WorkerState::unloading;
  w.unload_reason = std::move(why);
  w.ping_timer.reset();
  w.channel->send(exec::shutdown_line());
  // It has the grace to exit on its own, then SIGTERM, then SIGKILL after another grace.
  WorkerId id = w.id;
  auto grace = std::chrono::seconds(config_.kill_grace_s);
  w.timer = std::make_unique<ServiceTimer>(ioc_, grace);
  w.timer->async_wait([this, id, grace](const boost::system::error_code& e) {
    if (e) return;
    executor_->signal_group(run_key(id), SIGTERM);
    auto it = workers_.find(id);
    if (it == workers_.end()) return;
    it->second.timer->expires_after(grace);
    it->second.timer->async_wait([this, id](const boost::system::error_code& e2) {
      if (!e2) executor_->signal_group(run_key(id), SIGKILL);
    });
  });
}

void Orchestrator::stop_worker_run(JobId id, Running& r) {
  auto it = workers_.find(r.worker);
  if (it == workers_.end()) return;
  Worker& w = it->second;
  WorkerId wid = w.id;
  if (w.state == WorkerState::starting) {
    // Nothing runs yet: the job ends, and the worker finishes loading for the next run. Posted:
    // the caller may be walking running_ (a reading's enforcement).
    asio::post(ioc_, [this, id, wid] {
      auto w2 = workers_.find(wid);
      auto r2 = running_.find(id);
      if (w2 == workers_.end() || w2->second.job != id || r2 == running_.end() ||
          w2->second.state != WorkerState::starting) {
        return;  // ready meanwhile: its run went out and its cancel follows the usual way
      }
      core::RunOutcome outcome =
          core::worker_run_outcome({.why = r2->second.stop_reason,
                                    .detail = r2->second.stop_detail,
                                    .timeout_s = active_.at(id).spec.timeout_s},
                                   {});
      w2->second.held_mb = active_.at(id).spec.vram_mb;
      end_worker_run(id, &w2->second, outcome.state, outcome.reason, std::move(outcome.error), {});
    });
    return;
  }
  // Not sent yet: begin_run's answer ends it instead. Sent: the worker is asked to stop it.
  if (w.run_sent) w.channel->send(exec::cancel_line(id));
  // A worker that does not answer (or whose log switch is never answered) within the grace is
  // stopped, and the run with it.
  r.kill = std::make_unique<ServiceTimer>(ioc_, std::chrono::seconds(config_.kill_grace_s));
  r.kill->async_wait([this, wid](const boost::system::error_code& e) {
    if (!e) {
      worker_broken(wid,
                    fmt::format("it did not answer a cancel within {} s", config_.kill_grace_s));
    }
  });
}

}  // namespace vramq::service
