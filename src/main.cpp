// vramq: the server (`vramq serve`) and its command-line client, in one binary.
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>
#include <string_view>
#include <vector>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "app/batch_step.hpp"
#include "app/serve.hpp"
#include "app/serve_flags.hpp"
#include "cli/client_commands.hpp"
#include "cli/top.hpp"
#include "cli/worker_commands.hpp"

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
  app::add_config_flags(*serve, config);

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
      auto parsed = app::read_config_file(config_file);
      if (!parsed) {
        std::cerr << "vramq: " << parsed.error().message << "\n";
        return cli::kExitUsage;
      }
      // The file applies first, then the flags given on the command line again on top (CLI11
      // writes only the options that were given).
      config = *parsed;
      app.parse(parsed_argc, argv);
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
