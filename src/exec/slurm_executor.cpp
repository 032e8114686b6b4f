#include "exec/slurm_executor.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>

#include "exec/command.hpp"
#include "exec/slurm_cli.hpp"
#include "exec/slurm_run_record.hpp"
#include "util/untrusted_files.hpp"

namespace vramq::exec {
namespace asio = boost::asio;
namespace fs = std::filesystem;
using core::JobId;

namespace {

constexpr std::size_t kSubmitBatch = 16;  // sbatch calls per worker item (keeps polls going)

using Record = SlurmRunRecord;

std::optional<Record> read_record(const std::string& path) {
  return parse_run_record(util::read_range(path, 0, 4096));
}

// Written whole and synced (then renamed over the old one): a record is either the old or the
// new one, and survives a crash of the host.
bool write_record(const std::string& path, const Record& r) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  std::string text = format_run_record(r);
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd) == 0;
  ::close(fd);
  return ok && ::rename(tmp.c_str(), path.c_str()) == 0;
}

std::chrono::milliseconds ms(std::int64_t v) {
  return std::chrono::milliseconds(v);
}

// The controller could not be reached (or did not answer): worth a retry later, not a failure
// of the job.
bool unreachable(const CommandResult& r) {
  return r.timed_out || r.err.find("Unable to contact slurm controller") != std::string::npos ||
         r.err.find("Socket timed out") != std::string::npos ||
         r.err.find("Zero Bytes were transmitted") != std::string::npos ||
         r.err.find("temporarily unavailable") != std::string::npos;
}

ClusterRunState state_of(const SlurmJobStatus& s) {
  ClusterRunState st;
  st.cluster_id = s.id;
  st.state = s.state;
  if (is_running(s.state)) {
    st.phase = ClusterRunState::Phase::running;
    st.nodes = s.nodes;
    st.started_at_ms = s.start_time * 1000;
    // One node per run (shards or whole GPUs of one node).
    for (const SlurmJobStatus::Gres& g : s.gres) {
      if (g.name != "gpu" && g.name != "shard") continue;
      for (int i : g.indexes)
        st.gpus.push_back(slurm_gpu_uuid(s.nodes, i));
    }
  } else {
    st.phase = ClusterRunState::Phase::pending;
    st.reason = s.reason == "None" ? "" : s.reason;
  }
  return st;
}

}  // namespace

SlurmExecutor::SlurmExecutor(asio::any_io_executor loop, SlurmExecutorOptions options)
    : loop_(std::move(loop)), options_(std::move(options)), poll_timer_(loop_), worker_(loop_) {
  std::error_code ec;
  fs::create_directories(options_.run_dir, ec);
  ::chmod(options_.run_dir.c_str(), 0700);
  // sbatch sends the script's text to the controller: the nodes need no copy of it. The job's
  // argv follows as the script's arguments (never a shell string). Through `vramq batch-step`,
  // the job's VRAM is measured on its node (app/batch_step.hpp).
  batch_script_ = options_.run_dir + "/batch.sh";
  std::string text = "#!/bin/sh\n# vramq's Slurm batch step: the job's argv follows.\n";
  if (!options_.batch_step.empty()) {
    std::string quoted = options_.batch_step;
    for (std::size_t at = quoted.find('\''); at != std::string::npos;
         at = quoted.find('\'', at + 4)) {
      quoted.replace(at, 1, "'\\''");  // a quote closed, escaped, reopened
    }
    text += fmt::format("exec '{}' batch-step -- \"$@\"\n", quoted);
  } else {
    text += "exec \"$@\"\n";
  }
  std::ofstream(batch_script_, std::ios::trunc) << text;
}

SlurmExecutor::~SlurmExecutor() {
  poll_timer_.cancel();
  *alive_ = false;
}

core::Result<void> SlurmExecutor::connect() {
  std::vector<std::string> argv{"scontrol", "show", "config"};
  CommandResult r = run_command(argv, {}, ms(options_.command_timeout_ms));
  if (!r.ok()) return core::Error{"cannot reach the Slurm controller: scontrol: " + r.failure()};
  std::istringstream in(r.out);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.starts_with("ClusterName")) continue;
    std::size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string name = line.substr(eq + 1);
    name.erase(0, name.find_first_not_of(' '));
    cluster_ = name;
  }
  if (cluster_.empty()) return core::Error{"scontrol show config names no ClusterName"};
  return {};
}

std::string SlurmExecutor::record_path(JobId job, int attempt) const {
  return fmt::format("{}/{}-{}.slurm", options_.run_dir, job, attempt);
}

std::string SlurmExecutor::run_name(JobId job, int attempt) const {
  return fmt::format("{}{}.{}", options_.name_prefix, job, attempt);
}

SlurmExecutor::Submitted SlurmExecutor::submit(const LaunchSpec& spec,
                                               const std::string& name) const {
  Submitted out{.job = spec.job, .attempt = spec.attempt};
  core::SlurmJob request{.id = spec.job,
                         .vram_mb = spec.needs.vram_mb,
                         .gpus = spec.needs.gpus,
                         .timeout_s = spec.needs.timeout_s,
                         .priority = spec.needs.priority,
                         .job_dir = spec.needs.job_dir,
                         .name = name,
                         .cwd = spec.cwd};
  auto options = core::sbatch_options(request, options_.settings);
  if (!options) {
    out.error = options.error().message;
    out.errno_value = EINVAL;
    return out;
  }
  // Its logs go where the orchestrator reads them: sbatch_options names the job directory's
  // stdout.log and stderr.log (service/job_paths.hpp's log_path).
  std::vector<std::string> argv{"sbatch", "--parsable", "--export=ALL"};
  argv.insert(argv.end(), options->begin(), options->end());
  argv.push_back(batch_script_);
  argv.insert(argv.end(), spec.argv.begin(), spec.argv.end());
  std::string path = record_path(spec.job, spec.attempt);
  // sbatch exports its own environment to the job: the job's, plus what finds the cluster.
  std::vector<std::string> env = spec.env;
  for (const char* key : {"SLURM_CONF", "MUNGE_SOCKET"}) {
    if (const char* v = std::getenv(key)) env.push_back(fmt::format("{}={}", key, v));
  }
  // A record left by an earlier try whose answer never came: that try may have queued the job.
  if (std::optional<Record> earlier = read_record(path);
      earlier && earlier->slurm_id == 0 && earlier->unclear) {
    auto jobs = squeue_jobs(ms(options_.command_timeout_ms));
    if (!jobs) {
      out.error =
          "cannot tell whether an earlier sbatch of this run went through: " + jobs.error().message;
      out.errno_value = EAGAIN;
      return out;
    }
    if (const SlurmJobStatus* found = find_named(*jobs, name, cluster_)) {
      out.slurm_id = found->id;
      write_record(path, {.cluster = cluster_, .name = name, .slurm_id = out.slurm_id});
      return out;
    }
  }
  if (!write_record(path, {.cluster = cluster_, .name = name})) {
    out.errno_value = errno != 0 ? errno : EIO;
    out.error =
        fmt::format("cannot write the run record {}: {}", path, std::strerror(out.errno_value));
    return out;
  }
  CommandResult r = run_command(argv, env, ms(options_.command_timeout_ms));
  std::string id_text = r.out.substr(0, r.out.find_first_of(";\n"));
  std::int64_t id = std::strtoll(id_text.c_str(), nullptr, 10);
  if (!r.ok() || id <= 0) {
    out.error = "sbatch: " + r.failure();
    out.errno_value = unreachable(r) ? EAGAIN : EINVAL;
    if (unreachable(r)) {
      // No clear answer: it may have been queued all the same. The record stays, marked, and the
      // next try (or the next start) looks for the job by its name before submitting again.
      write_record(path, {.cluster = cluster_, .name = name, .unclear = true});
    } else {
      std::error_code ec;
      fs::remove(path, ec);  // refused: nothing was queued
    }
    return out;
  }
  out.slurm_id = id;
  write_record(path, {.cluster = cluster_, .name = name, .slurm_id = id});
  return out;
}

boost::system::result<Launched, SpawnError> SlurmExecutor::start(const LaunchSpec& spec,
                                                                 ExitHandler on_exit) {
  Run run{.job = spec.job,
          .attempt = spec.attempt,
          .name = run_name(spec.job, spec.attempt),
          .spec = spec,
          .on_exit = std::move(on_exit)};
  runs_.insert_or_assign(spec.job, std::move(run));
  to_submit_.push_back(spec.job);
  pump_submissions();
  return Launched{};
}

void SlurmExecutor::pump_submissions() {
  if (submitting_) return;
  std::vector<std::pair<LaunchSpec, std::string>> batch;
  while (!to_submit_.empty() && batch.size() < kSubmitBatch) {
    JobId id = to_submit_.front();
    to_submit_.pop_front();
    auto it = runs_.find(id);
    if (it == runs_.end() || !it->second.spec) continue;
    batch.emplace_back(*it->second.spec, it->second.name);
  }
  if (batch.empty()) return;
  submitting_ = true;
  worker_.async_run(
      [this, batch = std::move(batch)] {
        std::vector<Submitted> out;
        for (const auto& [spec, name] : batch)
          out.push_back(submit(spec, name));
        return out;
      },
      [this, alive = alive_](std::vector<Submitted> results) {
        if (!*alive) return;
        submitting_ = false;
        for (Submitted& s : results) {
          auto it = runs_.find(s.job);
          if (it == runs_.end() || it->second.attempt != s.attempt) {
            if (s.slurm_id > 0) scancel(s.slurm_id, false);  // nobody wants it any more
            continue;
          }
          Run& run = it->second;
          run.spec.reset();
          if (!s.error.empty()) {
            deliver(s.job, s.attempt,
                    ExitStatus{.spawn_error = std::move(s.error), .spawn_errno = s.errno_value});
            continue;
          }
          run.slurm_id = s.slurm_id;
          spdlog::info("job {}: submitted to Slurm as job {} on cluster {}", s.job, s.slurm_id,
                       cluster_);
          if (run.cancel_sent) scancel(s.slurm_id, false);
          report(run, {.phase = ClusterRunState::Phase::submitted,
                       .cluster_id = s.slurm_id,
                       .state = "PENDING"});
        }
        pump_submissions();
        arm_poll();
      });
}

void SlurmExecutor::signal_group(JobId job, int sig) {
  auto it = runs_.find(job);
  if (it == runs_.end() || it->second.ending) return;
  Run& run = it->second;
  if (run.slurm_id == 0) {
    auto queued = std::ranges::find(to_submit_, job);
    if (queued != to_submit_.end()) {
      // Not handed to sbatch yet: it never will be.
      to_submit_.erase(queued);
      deliver_later(run, ExitStatus{.signal = sig});
      return;
    }
    run.cancel_sent = true;  // in sbatch now: cancelled as soon as its id is known
    return;
  }
  scancel(run.slurm_id, sig == SIGKILL);
}

void SlurmExecutor::scancel(std::int64_t slurm_id, bool kill) {
  std::vector<std::string> argv{"scancel"};
  if (kill) {
    argv.emplace_back("--signal=KILL");
    argv.emplace_back("--full");
  }
  argv.push_back(std::to_string(slurm_id));
  worker_.async_run(
      [argv = std::move(argv), timeout = options_.command_timeout_ms] {
        return run_command(argv, {}, ms(timeout));
      },
      [slurm_id](const CommandResult& r) {
        if (!r.ok()) spdlog::warn("scancel {}: {}", slurm_id, r.failure());
      });
}

void SlurmExecutor::arm_poll() {
  // Armed once: submissions finishing faster than the poll period must not keep pushing it back.
  if (polling_ || poll_armed_ || runs_.empty()) return;
  poll_armed_ = true;
  poll_timer_.expires_after(ms(options_.poll_ms));
  poll_timer_.async_wait([this, alive = alive_](const boost::system::error_code& ec) {
    if (!*alive) return;
    poll_armed_ = false;
    if (!ec) poll();
  });
}

void SlurmExecutor::poll() {
  if (polling_) return;
  polling_ = true;
  worker_.async_run([timeout = options_.command_timeout_ms] { return squeue_jobs(ms(timeout)); },
                    [this, alive = alive_](core::Result<std::vector<SlurmJobStatus>> jobs) {
                      if (!*alive) return;
                      polling_ = false;
                      on_poll(std::move(jobs));
                      arm_poll();
                    });
}

void SlurmExecutor::on_poll(core::Result<std::vector<SlurmJobStatus>> jobs) {
  if (!jobs) {
    if (!poll_failing_)
      spdlog::error("Slurm: {}; runs keep their last known state", jobs.error().message);
    poll_failing_ = true;
    return;
  }
  if (poll_failing_) spdlog::info("Slurm answers again");
  poll_failing_ = false;
  std::map<std::int64_t, const SlurmJobStatus*> by_id;
  for (const SlurmJobStatus& s : *jobs) {
    if (s.cluster.empty() || s.cluster == cluster_) by_id.emplace(s.id, &s);
  }
  for (auto& [id, run] : runs_) {
    if (run.slurm_id == 0 && !run.spec && !run.ending && !submitting_) {
      // Adopted without an id (the last server died inside sbatch, and Slurm could not be asked
      // at start-up): its name says whether that sbatch went through.
      const SlurmJobStatus* found = find_named(*jobs, run.name, cluster_);
      if (found == nullptr) {
        deliver_later(run, ExitStatus{.spawn_error = "its submission to Slurm never went through",
                                      .spawn_errno = EAGAIN});
        continue;
      }
      run.slurm_id = found->id;
      write_record(record_path(run.job, run.attempt),
                   {.cluster = cluster_, .name = run.name, .slurm_id = run.slurm_id});
    }
    if (run.slurm_id == 0 || run.ending) continue;
    auto found = by_id.find(run.slurm_id);
    // Another job under its id (the cluster's state was wiped and ids started again): not ours.
    const SlurmJobStatus* s =
        found != by_id.end() && found->second->name == run.name ? found->second : nullptr;
    if (s != nullptr && !is_ended(s->state)) {
      report(run, state_of(*s));
      continue;
    }
    run.ending = true;
    std::optional<SlurmJobStatus> seen;
    if (s != nullptr) seen = *s;
    worker_.async_run(
        [this, seen = std::move(seen), slurm_id = run.slurm_id] {
          return end_of(seen ? &*seen : nullptr, slurm_id);
        },
        [this, alive = alive_, job = run.job, attempt = run.attempt](std::optional<ExitStatus> st) {
          if (!*alive) return;
          if (st) {
            deliver(job, attempt, std::move(*st));
          } else if (auto it = runs_.find(job);
                     it != runs_.end() && it->second.attempt == attempt) {
            it->second.ending = false;  // not over after all: the next poll looks again
          }
        });
  }
}

std::optional<ExitStatus> SlurmExecutor::end_of(const SlurmJobStatus* seen,
                                                std::int64_t slurm_id) const {
  std::vector<std::string> argv{"scontrol", "show", "job", "-o", std::to_string(slurm_id)};
  CommandResult r = run_command(argv, {}, ms(options_.command_timeout_ms));
  std::optional<SlurmJobEnd> end;
  if (r.ok()) {
    auto parsed = parse_scontrol_job(r.out);
    // Still queued or running after all (squeue's answer was older): not ended.
    if (parsed && !is_ended(parsed->state)) return std::nullopt;
    if (parsed) end = *parsed;
  }
  if (std::optional<ExitStatus> ended = slurm_run_end(end, seen, slurm_id)) return ended;
  return ExitStatus{.lost = fmt::format(
                        "Slurm no longer knows job {} on cluster {}: it ended while vramq was not "
                        "watching and the controller has forgotten it (MinJobAge)",
                        slurm_id, cluster_)};
}

void SlurmExecutor::report(Run& run, const ClusterRunState& state) {
  if (run.last == state) return;
  run.last = state;
  if (state_handler_) state_handler_(run.job, state);
}

void SlurmExecutor::deliver(JobId job, int attempt, ExitStatus status) {
  auto it = runs_.find(job);
  if (it == runs_.end() || it->second.attempt != attempt) return;
  ExitHandler handler = std::move(it->second.on_exit);
  runs_.erase(it);  // its record stays until release(): the end is not stored yet
  if (handler) handler(std::move(status));
}

void SlurmExecutor::deliver_later(Run& run, ExitStatus status) {
  // On the loop, never inside the caller: it may hold references into its own state for this
  // run (stop_job does).
  run.ending = true;
  asio::post(loop_, [this, alive = alive_, job = run.job, attempt = run.attempt,
                     status = std::move(status)]() mutable {
    if (*alive) deliver(job, attempt, std::move(status));
  });
}

void SlurmExecutor::release(JobId job, int attempt) {
  // The same attempt may run again already (a submission that failed for a passing reason is
  // retried under its attempt): that run and its record are not this release's.
  auto it = runs_.find(job);
  if (it != runs_.end() && it->second.attempt == attempt) return;
  std::string path = record_path(job, attempt);
  std::optional<Record> rec = read_record(path);
  if (rec && rec->slurm_id == 0 && rec->unclear) return;  // its retry must look for it first
  // A survivor no job claims (an older attempt's, an ended job's): it must not run on.
  if (rec && rec->slurm_id > 0 && (rec->cluster.empty() || rec->cluster == cluster_)) {
    scancel(rec->slurm_id, false);
  }
  std::error_code ec;
  fs::remove(path, ec);
}

std::vector<Survivor> SlurmExecutor::survivors() {
  std::vector<Survivor> out;
  std::vector<std::tuple<JobId, int, Record>> records;
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(options_.run_dir, ec)) {
    std::string file = e.path().filename().string();
    if (!file.ends_with(".slurm")) continue;
    long long job = 0;
    int attempt = 0;
    if (std::sscanf(file.c_str(), "%lld-%d.slurm", &job, &attempt) != 2) continue;
    if (auto r = read_record(e.path().string())) records.emplace_back(job, attempt, *r);
  }
  if (records.empty()) return out;
  auto jobs = squeue_jobs(ms(options_.command_timeout_ms));
  if (!jobs)
    spdlog::warn("Slurm: cannot list its jobs at start-up ({}); the runs are adopted as they were",
                 jobs.error().message);
  for (auto& [job, attempt, rec] : records) {
    Survivor s{.job = job, .attempt = attempt, .started = true, .alive = true};
    // Names are unique to this data directory and attempt; a recorded id must match too (ids
    // restart when a cluster's state is wiped).
    const SlurmJobStatus* found = jobs ? find_named(*jobs, rec.name, cluster_) : nullptr;
    if (found != nullptr && rec.slurm_id != 0 && found->id != rec.slurm_id) found = nullptr;
    std::int64_t slurm_id = found != nullptr ? found->id : rec.slurm_id;
    // Pending until known better (the poll after adoption reports where it is).
    s.cluster = ClusterRunState{.phase = ClusterRunState::Phase::pending, .cluster_id = slurm_id};
    if (!rec.cluster.empty() && rec.cluster != cluster_) {
      s.alive = false;
      s.ended = ExitStatus{
          .lost = fmt::format("it was submitted to Slurm cluster {} and vramq now uses cluster {}",
                              rec.cluster, cluster_)};
    } else if (!jobs) {
      // Cannot tell now: adopted as it was; the polls find it (by id, or by name when the last
      // server died inside sbatch) or report it gone.
      s.cluster->state = "UNKNOWN";
    } else if (slurm_id == 0) {
      // The last server died in sbatch and Slurm has no job of that name: nothing ran.
      s.started = false;
      s.alive = false;
    } else if (found != nullptr && !is_ended(found->state)) {
      s.cluster = state_of(*found);
      s.started_at_ms = s.cluster->started_at_ms;
    } else if (std::optional<ExitStatus> ended = end_of(found, slurm_id)) {
      s.alive = false;
      s.ended = std::move(*ended);
    }
    if (slurm_id != rec.slurm_id && slurm_id > 0) {
      write_record(record_path(job, attempt),
                   {.cluster = cluster_, .name = rec.name, .slurm_id = slurm_id});
    }
    out.push_back(std::move(s));
  }
  return out;
}

void SlurmExecutor::adopt(const Survivor& s, ExitHandler on_exit) {
  Run run{.job = s.job,
          .attempt = s.attempt,
          .name = run_name(s.job, s.attempt),
          .slurm_id = s.cluster ? s.cluster->cluster_id : 0,
          .on_exit = std::move(on_exit)};
  if (s.cluster) run.last = *s.cluster;
  runs_.insert_or_assign(s.job, std::move(run));
  if (s.ended) {
    deliver_later(runs_.at(s.job), *s.ended);
    return;
  }
  arm_poll();
}

}  // namespace vramq::exec
