// Orchestrator: running jobs. A scheduling decision becomes a run of the kind that runs the job
// (launch; run_kind.hpp), which reports its start and its end back (run_started, and the door:
// job_ends.cpp); GPU readings measure it and --vram-policy guards it (guard_vram); timeouts,
// cancels and enforcement stop it through its kind (stop_job).
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <algorithm>
#include <filesystem>

#include "core/footprints.hpp"
#include "core/run_outcome.hpp"
#include "service/job_paths.hpp"
#include "service/orchestrator.hpp"

namespace vramq::service {
namespace asio = boost::asio;
using core::EndReason;
using core::Job;
using core::JobId;
using core::JobState;

namespace {

// What every run of `job` gets in its environment on top of its own env: VRAMQ_JOB_ID,
// VRAMQ_VRAM_MB, VRAMQ_JOB_DIR, VRAMQ_PROGRESS_FILE (the last attempt's reports removed from a
// directory that was there before, `fresh` false).
std::vector<std::pair<std::string, std::string>> run_environment(const Job& job,
                                                                 const std::string& dir,
                                                                 bool fresh) {
  std::vector<std::pair<std::string, std::string>> env = job.spec.env;
  env.emplace_back("VRAMQ_JOB_ID", std::to_string(job.id));
  env.emplace_back("VRAMQ_VRAM_MB", std::to_string(job.spec.vram_mb));
  env.emplace_back("VRAMQ_JOB_DIR", dir);
  std::error_code ec;
  if (!fresh) std::filesystem::remove(progress_path(dir), ec);
  env.emplace_back("VRAMQ_PROGRESS_FILE", progress_path(dir));
  return env;
}

// What --vram-policy makes of a run's use in the newest reading (core::judge_vram): it is to be
// stopped (kill; its stop_detail says why), its warning was added or updated (warn), or nothing.
enum class Guarded { nothing, stop, warned };
Guarded guard_vram(JobId id, Run& r, Job& job, const core::VramLimits& limits,
                   ServiceMetrics& metrics) {
  std::int64_t peak_before = r.over_use.peak_mb;
  core::VramVerdict verdict =
      core::judge_vram(r.reservation_mb, r.highest_mb(), now_ms(), limits, r.over_use);
  auto what = [&] {
    return fmt::format(
        "used up to {} MiB on GPU {}, above its reservation of {} MiB plus {:g}% for more than "
        "{} ms",
        r.over_use.peak_mb, fmt::join(r.gpus, ","), r.reservation_mb, limits.tolerance * 100,
        limits.grace_ms);
  };
  if (verdict == core::VramVerdict::act) {
    spdlog::warn("job {}: {}", id, what());
    ++metrics.enforcements[limits.policy == core::VramPolicy::kill ? "kill" : "warn"];
    if (limits.policy == core::VramPolicy::kill) {
      r.stop_detail = what();
      return Guarded::stop;
    }
    r.warning_index = job.warnings.size();
    job.warnings.push_back(what());
    return Guarded::warned;
  }
  if (r.warning_index && r.over_use.peak_mb > peak_before) {
    // Warned already (warn policy): the warning keeps quoting the peak as the job grows on.
    job.warnings.at(*r.warning_index) = what();
    return Guarded::warned;
  }
  return Guarded::nothing;
}

}  // namespace

RunKind& Orchestrator::kind_for(const Job& job) const {
  if (workers_->serves(job.spec)) return *workers_;
  return *runs_;
}

Run* Orchestrator::run_of(JobId id) {
  auto it = running_.find(id);
  return it == running_.end() ? nullptr : &it->second;
}

void Orchestrator::launch(Job queued, std::vector<int> gpus, core::WorkerId worker) {
  JobId id = queued.id;
  queue_.erase(id);
  Job& job = active_.insert_or_assign(id, std::move(queued)).first->second;
  Placement where{.gpus = gpus,
                  .worker = worker,
                  .job_dir = files_.dir(id),
                  .env = {},
                  .started_at_ms = now_ms()};
  // Made here for the first attempt with one mkdir; a retry finds it with its last files (and
  // create_directories says if it is not a directory, or makes a parent removed meanwhile).
  std::error_code ec;
  bool fresh = ::mkdir(where.job_dir.c_str(), 0777) == 0;
  if (!fresh) std::filesystem::create_directories(where.job_dir, ec);  // a retry; or no parent
  if (ec) {
    start_failed(id,
                 fmt::format("cannot create the job directory {}: {}", where.job_dir, ec.message()),
                 ec.value(), std::nullopt);
    return;
  }
  // Its uploads join it before its user gets the directory (job_inputs.hpp).
  if (auto moved = inputs_->move_into(id, where.job_dir); !moved) {
    start_failed(id, moved.error().message, 0, std::nullopt);
    return;
  }
  // A job that runs as another user owns its directory (nobody else's job can enter it) and is
  // told who it is; a client's env may still say otherwise (run_environment comes after).
  // A retry run as vramq itself (its owner's run_as dropped meanwhile) takes the directory back:
  // the user it was given to must not keep planting links where a root job works.
  where.user = owners_.user_of(job.spec.owner);
  if (where.user != nullptr || !fresh) {
    uid_t uid = where.user != nullptr ? where.user->uid : ::geteuid();
    gid_t gid = where.user != nullptr ? where.user->gid : ::getegid();
    int mode = where.user != nullptr ? 0700 : -1;
    if (std::error_code given = util::give_dir(where.job_dir, uid, gid, mode)) {
      start_failed(id,
                   fmt::format("cannot give the job directory {} to {}: {}", where.job_dir,
                               where.user != nullptr ? where.user->name : "vramq", given.message()),
                   given.value(), std::nullopt);
      return;
    }
  }
  if (where.user != nullptr) where.env = util::user_environment(*where.user);
  std::ranges::move(run_environment(job, where.job_dir, fresh), std::back_inserter(where.env));
  if (!gpus.empty()) {
    std::vector<std::string> uuids;
    uuids.reserve(gpus.size());
    for (int g : gpus)
      uuids.push_back(readings_->gpus().at(g).uuid);
    // Every GPU of the job, in index order (CUDA numbers them 0..N-1 inside the job).
    where.env.emplace_back("CUDA_VISIBLE_DEVICES", fmt::format("{}", fmt::join(uuids, ",")));
    where.env.emplace_back("VRAMQ_GPU", std::to_string(gpus.front()));
    where.env.emplace_back("VRAMQ_GPUS", fmt::format("{}", fmt::join(gpus, ",")));
  }
  if (readings_->simulated()) {
    std::string sim_file = where.job_dir + "/sim-vram-mb";
    if (!fresh) std::filesystem::remove(sim_file, ec);  // a retry starts without its last report
    where.env.emplace_back("VRAMQ_SIM_VRAM_FILE", sim_file);
  }
  RunKind& kind = kind_for(job);
  job.worker = 0;
  std::optional<exec::Launched> launched = kind.start(job, where);
  if (!launched) return;
  job.pid = launched->pid;
  job.pid_start_ticks = launched->start_ticks;
  running_.emplace(id, Run{.kind = &kind,
                           .gpus = gpus,
                           .reservation_mb = kind.reservation_mb(job),
                           .job_dir = where.job_dir});
  if (kind.running(id)) {
    run_started(id, std::move(gpus), where.started_at_ms);
  } else {
    publish_job(job);  // in the kind's own queue
  }
}

void Orchestrator::run_started(JobId id, std::vector<int> gpus, std::int64_t started_at_ms) {
  Job& job = active_.at(id);
  Run& r = running_.at(id);
  job.state = JobState::running;
  job.gpus = std::move(gpus);
  job.gpu = job.gpus.empty() ? std::nullopt : std::optional<int>(job.gpus.front());
  job.started_at_ms = started_at_ms;
  job.exit_code.reset();
  job.signal.reset();
  job.reason = EndReason::none;  // a preempted job's reason lasts until it runs again
  r.gpus = job.gpus;
  metrics_.observe_wait(job);
  store_->save(job);
  r.arm_timeout(ioc_, job.started_at_ms, job.spec.timeout_s,
                [this, id] { stop_job(id, EndReason::timeout); });
  files_.watcher().wake(id);  // followers of a queued job can now watch its directory
  publish_job(job);
  r.kind->started(id);
}

void Orchestrator::stop_job(JobId id, EndReason why) {
  auto it = running_.find(id);
  if (it == running_.end()) return;
  if (it->second.stop_reason == EndReason::preempted && why == EndReason::cancelled) {
    // Cancelled during its preemption's grace: it ends cancelled, not queued again (already
    // signalled; the grace's SIGKILL still comes).
    it->second.stop_reason = why;
    it->second.stop_detail.clear();
    return;
  }
  if (it->second.stop_reason != EndReason::none) return;
  it->second.stop_reason = why;
  it->second.stop_grace_s =
      why == EndReason::preempted ? config_.preempt_grace_s : config_.kill_grace_s;
  it->second.kind->stop(id, it->second);
}

void Orchestrator::on_reading() {
  if (readings_->error().empty()) {
    const gpu::GpuSample& sample = readings_->sample();
    core::VramLimits limits{
        .tolerance = config_.vram_tolerance,
        .grace_ms = config_.vram_grace_ms,
        .policy = core::parse_vram_policy(config_.vram_policy).value_or(core::VramPolicy::kill)};
    for (auto& [id, r] : running_) {
      auto m = sample.job_used_mb.find(id);
      r.account_measured(now_ms(),
                         m == sample.job_used_mb.end() ? std::map<int, std::int64_t>{} : m->second);
      if (std::optional<std::int64_t> highest = r.highest_mb()) {
        Job& job = active_.at(id);
        job.peak_vram_mb = std::max(job.peak_vram_mb.value_or(0), *highest);
        r.kind->measured(id, *highest);
      }
      Guarded guarded = guard_vram(id, r, active_.at(id), limits, metrics_);
      if (guarded == Guarded::stop) stop_job(id, EndReason::vram_exceeded);
      if (guarded == Guarded::warned) {
        store_->save(active_.at(id));
        publish_job(active_.at(id));
      }
    }
    workers_->on_reading(sample);
  }
  publish_readings();
  schedule_soon();
}

}  // namespace vramq::service
