// vramq: the server (`vramq serve`) and its command-line client, in one binary.
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string_view>
#include <vector>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "app/batch_step.hpp"
#include "app/serve.hpp"
#include "cli/client_commands.hpp"
#include "cli/top.hpp"
#include "cli/worker_commands.hpp"
#include "core/units.hpp"
#include "core/vram_guard.hpp"

namespace {

std::string env_or(const char* name, std::string fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::string(v) : std::move(fallback);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace vramq;
  // `vramq batch-step -- ARGV...`: a job's Slurm batch step on a node (app/batch_step.hpp).
  if (argc > 2 && std::string_view(argv[1]) == "batch-step" && std::string_view(argv[2]) == "--") {
    std::vector<std::string> job(argv + 3, argv + argc);
    return app::batch_step(job);
  }
  // Logs go to stderr: stdout belongs to command output (tables, JSON, job output).
  spdlog::set_default_logger(spdlog::stderr_logger_mt("vramq"));
  CLI::App app{
      "vramq: a GPU job orchestrator that starts each job only when a GPU has room for it"};
  app.require_subcommand(1);
  // `vramq submit [OPTIONS] -- ARGV...`: everything after `--` is the job's argv as it is, its
  // own --flags included, so it is split off before CLI11 could take them for vramq's options.
  std::vector<std::string> raw_argv;
  int parsed_argc = argc;
  if (argc > 1 && std::string_view(argv[1]) == "submit") {
    for (int i = 2; i < argc; ++i) {
      if (std::string_view(argv[i]) == "--") {
        raw_argv.assign(argv + i + 1, argv + argc);
        parsed_argc = i;
        break;
      }
    }
  }
  cli::ClientOptions client{.server = env_or("VRAMQ_SERVER", "http://127.0.0.1:8000"),
                            .token = env_or("VRAMQ_TOKEN", ""),
                            .json = false};

  // serve
  core::Config config;
  std::string config_file;
  CLI::App* serve = app.add_subcommand("serve", "run the vramq server");
  serve->add_option("--config", config_file, "TOML config file (flags override it)");
  serve->add_option("--listen", config.listen, "HOST:PORT to listen on");
  serve->add_option("--data-dir", config.data_dir, "where the job store and job directories live");
  serve->add_option("--gpus", config.gpus, "nvml | auto | sim:SPEC (e.g. sim:2x24GiB)");
  serve->add_option("--tasks", config.tasks_file, "task catalog (TOML); default: the demo catalog");
  serve->add_option("--queue-max", config.queue_max, "most jobs waiting before 429");
  serve->add_option("--vram-buffer-mb", config.vram_buffer_mb, "VRAM kept free on every GPU");
  serve->add_option("--default-vram-mb", config.default_vram_mb,
                    "reservation of raw commands without vram_mb");
  serve->add_flag("--allow-raw-commands", config.allow_raw_commands,
                  "accept {\"command\": [...]} submissions");
  serve->add_flag("--unsafe-raw-commands-without-tokens", config.unsafe_raw_commands_without_tokens,
                  "allow --allow-raw-commands without --token-file on a non-loopback address "
                  "(anyone who reaches the port may run any command as this user)");
  serve->add_option("--token-file", config.token_file, "bearer tokens, one per line");
  serve->add_option("--backfill-bound-s", config.backfill_bound_s,
                    "longest wait before a job may no longer be passed");
  serve->add_option("--kill-grace-s", config.kill_grace_s, "SIGTERM to SIGKILL grace");
  serve->add_option("--worker-ping-ms", config.worker_ping_ms,
                    "how often an idle warm worker is pinged (unanswered by the next: stopped)");
  serve->add_option("--orphan-grace-s", config.orphan_grace_s,
                    "how long running jobs wait for a restarted vramq before their supervisors "
                    "end them");
  serve->add_flag("--stop-jobs-on-exit", config.stop_jobs_on_exit,
                  "at SIGTERM/SIGINT end running jobs (interrupted) instead of leaving them "
                  "running for the next start");
  serve->add_option("--gpu-poll-ms", config.gpu_poll_ms, "GPU reading period");
  serve->add_option("--event-ring-size", config.event_ring_size,
                    "events kept for GET /v1/events listeners that reconnect (0: no events)");
  serve->add_option("--event-ring-mb", config.event_ring_mb,
                    "the most memory those kept events may take");
  serve->add_option("--event-heartbeat-s", config.event_heartbeat_s,
                    "an idle event stream sends a heartbeat this often");
  serve->add_option("--http-timeout-s", config.http_timeout_s,
                    "a request must arrive whole within this many seconds");
  serve->add_option("--max-connections", config.max_connections,
                    "open connections before new ones are refused (lowered to fit the open-file "
                    "limit)");
  serve->add_option("--max-connections-per-client", config.max_connections_per_client,
                    "open connections per client address (IPv4, or IPv6 /64)");
  serve->add_option("--first-request-timeout-s", config.first_request_timeout_s,
                    "a new connection's first request header must arrive within this");
  serve->add_option("--log-limit-bytes", config.log_limit_bytes,
                    "each job log file's cap; past it the job is stopped (0: none)");
  serve->add_flag("--share-data-with-group", config.share_data_with_group,
                  "let the data directory's group read it (0750/0640 instead of 0700/0600)");
  serve->add_option("--body-limit-bytes", config.body_limit_bytes,
                    "largest request body accepted (413 above)");
  serve->add_option("--max-buffered-body-bytes", config.max_buffered_body_bytes,
                    "request bodies held in memory at once, across connections");
  serve->add_option("--max-waiters-per-job", config.max_waiters_per_job,
                    "log followers and ?wait requests held open on one job");
  serve->add_option("--max-waiters-per-owner", config.max_waiters_per_owner,
                    "log followers, ?wait and /run-script requests one token holder keeps open");
  std::string retain_ended;
  serve->add_option("--retain-ended", retain_ended,
                    "remove ended jobs (rows and directories) this long after they ended: 7d, "
                    "12h, 30m, 3600s; 0 keeps them");
  serve->add_option("--retain-ended-count", config.retain_ended_count,
                    "keep at most this many ended jobs, the newest (0: no cap)");
  serve->add_option("--retention-interval-s", config.retention_interval_s,
                    "how often retention looks for ended jobs to remove");
  std::string vram_tolerance;
  serve->add_option("--vram-tolerance", vram_tolerance,
                    "use allowed above a job's reservation before it counts as over (10% or 0.1)");
  serve->add_option("--vram-grace-ms", config.vram_grace_ms,
                    "how long a job may stay over before --vram-policy acts");
  serve
      ->add_option("--vram-policy", config.vram_policy,
                   "kill (end the job, reason vram_exceeded) or warn (record it on the job)")
      ->check(CLI::IsMember({"kill", "warn"}));
  serve->add_option("--gpu-lock-dir", config.gpu_lock_dir,
                    "where per-GPU lock files live (one vramq per GPU on a host)");
  serve
      ->add_option("--log-follow", config.log_follow,
                   "inotify, or poll (a data directory on NFS): how log followers learn of writes")
      ->check(CLI::IsMember({"inotify", "poll"}));
  serve->add_option("--executor", config.executor, "local (this host's GPUs) or slurm (a cluster)")
      ->check(CLI::IsMember({"local", "slurm"}));
  serve->add_option("--slurm-partition", config.slurm_partition,
                    "Slurm partition for jobs (default: the cluster's)");
  serve->add_option("--slurm-gpu-partition", config.slurm_gpu_partition,
                    "Slurm partition of whole GPUs for jobs on several GPUs (none: refused)");
  serve->add_option("--slurm-account", config.slurm_account, "Slurm account to charge");
  serve->add_option("--slurm-sbatch-arg", config.slurm_sbatch_args,
                    "an extra sbatch argument (repeat for more), e.g. --slurm-sbatch-arg=--qos=ml");
  serve
      ->add_option("--slurm-vram", config.slurm_vram,
                   "how VRAM is asked of Slurm: shard (per GPU) or vram (count-only GRES, exact "
                   "only on one-GPU nodes)")
      ->check(CLI::IsMember({"shard", "vram"}));
  serve->add_option("--slurm-shard-mb", config.slurm_shard_mb,
                    "one Slurm shard's VRAM in MiB (gres.conf's per-GPU Count = its MiB / this)");
  serve->add_option("--slurm-poll-ms", config.slurm_poll_ms,
                    "how often the cluster's queue is read (one squeue for all jobs)");
  serve->add_option("--nvml-library", config.nvml_library,
                    "the NVML library to load (default: the driver's libnvidia-ml.so.1)");

  // client commands
  auto add_client_flags = [&](CLI::App* cmd) {
    cmd->add_option("--server", client.server,
                    "server URL (default $VRAMQ_SERVER or http://127.0.0.1:8000)");
    cmd->add_flag("--json", client.json, "JSON output for scripts");
  };
  cli::SubmitOptions submit;
  CLI::App* c_submit = app.add_subcommand("submit",
                                          "submit a job: vramq submit TASK [--param k=v ...] "
                                          "[--wait], or vramq submit [OPTIONS] -- ARGV...");
  add_client_flags(c_submit);
  c_submit->add_option("task", submit.task, "task name (vramq tasks lists them)");
  c_submit->add_option("--param,-p", submit.params, "a task parameter NAME=VALUE (repeatable)");
  c_submit
      ->add_option("--command", submit.command,
                   "a raw argv instead of a task (if the server allows); for an argv with its "
                   "own --options, end vramq's options with -- and give the argv after it")
      ->expected(1, -1);
  c_submit->add_option("--vram-mb", submit.vram_mb, "override the VRAM reservation (MiB, per GPU)");
  c_submit->add_option("--gpus", submit.gpus, "GPUs the job needs at once (default 1)")
      ->check(CLI::Range(1, 64));
  c_submit->add_option("--priority", submit.priority, "higher runs first");
  c_submit->add_option("--timeout", submit.timeout_s, "seconds before the job is stopped");
  c_submit->add_option("--max-retries", submit.max_retries, "retries after a failure");
  c_submit->add_option("--retry-delay", submit.retry_delay_s,
                       "seconds before the first retry, doubled for each later one");
  c_submit->add_option("--after-ok", submit.after_ok, "start only once job ID has succeeded")
      ->allow_extra_args(false);
  c_submit->add_option("--after", submit.after_any, "start only once job ID has ended, however")
      ->allow_extra_args(false);
  c_submit->add_option("--env,-e", submit.env, "NAME=VALUE for the job (as the task allows)")
      ->allow_extra_args(false);
  c_submit->add_option("--name,-J", submit.name, "a name for the job (ls --name finds it)");
  c_submit->add_option("--label,-L", submit.labels, "a label KEY=VALUE (repeatable)")
      ->allow_extra_args(false);
  c_submit->add_option("--idempotency-key", submit.idempotency_key,
                       "a retry with the same key returns the first job instead of a second");
  c_submit->add_flag("--wait", submit.wait, "wait for the job to end and print its output");

  std::int64_t job_id = 0;
  CLI::App* c_show = app.add_subcommand("show", "show one job");
  add_client_flags(c_show);
  c_show->add_option("id", job_id, "job id")->required();
  CLI::App* c_wait = app.add_subcommand("wait", "wait for a job to end; exit 0 if it succeeded");
  add_client_flags(c_wait);
  c_wait->add_option("id", job_id, "job id")->required();
  std::string ls_states;
  int ls_limit = 50;
  CLI::App* c_ls = app.add_subcommand("ls", "list jobs, newest first");
  add_client_flags(c_ls);
  c_ls->add_option("--state", ls_states, "comma-separated states, e.g. queued,running");
  c_ls->add_option("--limit", ls_limit, "at most this many (1..1000)")->check(CLI::Range(1, 1000));
  cli::ListOptions ls_filter;
  c_ls->add_option("--name", ls_filter.name, "only jobs with this name");
  c_ls->add_option("--label", ls_filter.label, "only jobs with this label KEY=VALUE");
  c_ls->add_option("--owner", ls_filter.owner, "only jobs of this token holder");
  std::int64_t ls_before = 0;
  c_ls->add_option("--before", ls_before, "only jobs with a smaller id (the next page)")
      ->check(CLI::PositiveNumber);
  CLI::App* c_cancel = app.add_subcommand("cancel", "cancel a job (a running one is stopped)");
  add_client_flags(c_cancel);
  c_cancel->add_option("id", job_id, "job id")->required();
  std::string fetch_path;
  std::string fetch_dir;
  CLI::App* c_fetch = app.add_subcommand(
      "fetch", "download a job's files: all of them (into ./job-ID), or one PATH (into .)");
  add_client_flags(c_fetch);
  c_fetch->add_option("id", job_id, "job id")->required();
  c_fetch->add_option("path", fetch_path, "one file, relative to the job's directory");
  c_fetch->add_option("-o,--output-dir", fetch_dir, "where to put them");
  std::vector<std::int64_t> rm_ids;
  CLI::App* c_rm =
      app.add_subcommand("rm", "remove ended jobs: their records and files (like ts -r)");
  add_client_flags(c_rm);
  c_rm->add_option("ids", rm_ids, "job ids")->required();
  bool logs_stderr = false;
  bool logs_follow = false;
  CLI::App* c_logs =
      app.add_subcommand("logs", "print a job's stdout (or --stderr); -f follows it");
  add_client_flags(c_logs);
  c_logs->add_option("id", job_id, "job id")->required();
  c_logs->add_flag("--stderr", logs_stderr, "the job's stderr instead of stdout");
  c_logs->add_flag("-f,--follow", logs_follow, "keep printing until the job ends");
  int logs_attempt = 0;
  c_logs->add_option("--attempt", logs_attempt, "an earlier attempt's log (a retried job)")
      ->check(CLI::PositiveNumber);
  CLI::App* c_gpus = app.add_subcommand("gpus", "show GPUs and their VRAM");
  add_client_flags(c_gpus);
  CLI::App* c_top = app.add_subcommand(
      "top", "a live full-screen view: GPUs, running jobs, the queue, warm workers");
  add_client_flags(c_top);
  bool top_once = false;
  c_top->add_flag("--once", top_once, "print one screen and exit (no terminal needed)");
  CLI::App* c_tasks = app.add_subcommand("tasks", "list the task catalog");
  add_client_flags(c_tasks);
  CLI::App* c_workers = app.add_subcommand("workers", "show the resident warm workers");
  add_client_flags(c_workers);
  CLI::App* c_unload = c_workers->add_subcommand("unload", "unload an idle warm worker");
  add_client_flags(c_unload);
  std::int64_t worker_id = 0;
  c_unload->add_option("id", worker_id, "worker id")->required();

  try {
    app.parse(parsed_argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : cli::kExitUsage;
  }

  if (serve->parsed()) {
    if (!config_file.empty()) {
      std::ifstream in(config_file);
      if (!in) {
        std::cerr << "vramq: cannot read config file " << config_file << "\n";
        return cli::kExitUsage;
      }
      std::stringstream text;
      text << in.rdbuf();
      auto parsed = core::parse_config(text.str(), core::Config{});
      if (!parsed) {
        std::cerr << "vramq: " << config_file << ": " << parsed.error().message << "\n";
        return cli::kExitUsage;
      }
      // The file applies first, then the flags given on the command line again on top (CLI11
      // writes only the options that were given).
      config = *parsed;
      app.parse(parsed_argc, argv);
    }
    if (!retain_ended.empty()) {
      auto d = core::parse_duration_s(retain_ended);
      if (!d) {
        std::cerr << "vramq serve: --retain-ended: " << d.error().message << "\n";
        return cli::kExitUsage;
      }
      config.retain_ended_s = *d;
    }
    if (!vram_tolerance.empty()) {
      auto t = core::parse_tolerance(vram_tolerance);
      if (!t) {
        std::cerr << "vramq serve: --vram-tolerance: " << t.error().message << "\n";
        return cli::kExitUsage;
      }
      config.vram_tolerance = *t;
    }
    return app::serve(config);
  }
  if (c_submit->parsed()) {
    if (!raw_argv.empty()) {
      if (!submit.command.empty()) {
        std::cerr << "vramq submit: give the argv with --command or after --, not both\n";
        return cli::kExitUsage;
      }
      submit.command = std::move(raw_argv);
    }
    if (submit.task.empty() && submit.command.empty()) {
      std::cerr << "vramq submit: what to run? give a TASK (vramq tasks lists them), e.g. "
                   "vramq submit fake-model -p seconds=2 --wait, or a command after --, e.g. "
                   "vramq submit -- /usr/bin/nvidia-smi\n";
      return cli::kExitUsage;
    }
    if (!submit.task.empty() && !submit.command.empty()) {
      std::cerr << "vramq submit: give a TASK or a command after -- (or --command), not both\n";
      return cli::kExitUsage;
    }
    return cli::submit(client, submit);
  }
  if (c_show->parsed()) return cli::show(client, job_id);
  if (c_wait->parsed()) return cli::wait(client, job_id);
  if (c_gpus->parsed()) return cli::gpus(client);
  if (c_top->parsed()) return cli::top(client, top_once);
  if (c_unload->parsed()) return cli::unload_worker(client, worker_id);
  if (c_workers->parsed()) return cli::workers(client);
  if (c_ls->parsed()) {
    ls_filter.states = ls_states;
    ls_filter.limit = ls_limit;
    ls_filter.before = ls_before;
    return cli::list(client, ls_filter);
  }
  if (c_logs->parsed()) return cli::logs(client, job_id, logs_stderr, logs_follow, logs_attempt);
  if (c_cancel->parsed()) return cli::cancel(client, job_id);
  if (c_rm->parsed()) return cli::remove(client, rm_ids);
  if (c_fetch->parsed()) return cli::fetch(client, job_id, fetch_path, fetch_dir);
  if (c_tasks->parsed()) return cli::tasks(client);
  return cli::kExitUsage;
}
