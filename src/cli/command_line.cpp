#include "cli/command_line.hpp"

#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/top.hpp"
#include "cli/worker_commands.hpp"

namespace vramq::cli {

ClientCommandLine::ClientCommandLine(CLI::App& app, ClientOptions client)
    : client_(std::move(client)) {
  add_submit(app);
  add_job_commands(app);
  add_views(app);
}

CLI::App* ClientCommandLine::add(CLI::App& parent, const std::string& name, const std::string& help,
                                 std::function<int()> call) {
  CLI::App* cmd = parent.add_subcommand(name, help);
  cmd->add_option("--server", client_.server,
                  "server URL (default $VRAMQ_SERVER or http://127.0.0.1:8000)");
  cmd->add_flag("--json", client_.json, "JSON output for scripts");
  commands_.insert(commands_.begin(), {cmd, std::move(call)});  // nested ones come first
  return cmd;
}

void ClientCommandLine::add_submit(CLI::App& app) {
  SubmitOptions& s = submit_options_;
  CLI::App* c = add(app, "submit",
                    "submit a job: vramq submit TASK [--param k=v ...] [--wait], or vramq submit "
                    "[OPTIONS] -- ARGV...",
                    nullptr);
  submit_ = c;
  c->add_option("task", s.task, "task name (vramq tasks lists them)");
  c->add_option("--param,-p", s.params, "a task parameter NAME=VALUE (repeatable)");
  c->add_option("--file,-f", s.files,
                "a file parameter NAME=PATH: the file is uploaded with the job (repeatable)");
  c->add_option("--command", s.command,
                "a raw argv instead of a task (if the server allows); for an argv with its own "
                "--options, end vramq's options with -- and give the argv after it")
      ->expected(1, -1);
  c->add_option("--vram-mb", s.vram_mb, "override the VRAM reservation (MiB, per GPU)");
  c->add_option("--gpus", s.gpus, "GPUs the job needs at once (default 1)")
      ->check(CLI::Range(1, 64));
  c->add_option("--priority", s.priority, "higher runs first");
  c->add_option("--timeout", s.timeout_s, "seconds before the job is stopped");
  c->add_option("--max-retries", s.max_retries, "retries after a failure");
  c->add_option("--retry-delay", s.retry_delay_s,
                "seconds before the first retry, doubled for each later one");
  c->add_option("--after-ok", s.after_ok, "start only once job ID has succeeded")
      ->allow_extra_args(false);
  c->add_option("--after", s.after_any, "start only once job ID has ended, however")
      ->allow_extra_args(false);
  c->add_option("--env,-e", s.env, "NAME=VALUE for the job (as the task allows)")
      ->allow_extra_args(false);
  c->add_option("--name,-J", s.name, "a name for the job (ls --name finds it)");
  c->add_option("--label,-L", s.labels, "a label KEY=VALUE (repeatable)")->allow_extra_args(false);
  c->add_option("--idempotency-key", s.idempotency_key,
                "a retry with the same key returns the first job instead of a second");
  c->add_flag("--preemptible,!--no-preemptible", s.preemptible,
              "may borrow VRAM above the owner's guarantee, and be taken back (default: the "
              "task's)");
  c->add_flag("--wait", s.wait, "wait for the job to end and print its output");
}

void ClientCommandLine::add_job_commands(CLI::App& app) {
  add(app, "show", "show one job", [this] { return show(client_, job_id_); })
      ->add_option("id", job_id_, "job id")
      ->required();
  add(app, "wait", "wait for a job to end; exit 0 if it succeeded",
      [this] { return wait(client_, job_id_); })
      ->add_option("id", job_id_, "job id")
      ->required();
  CLI::App* ls = add(app, "ls", "list jobs, newest first", [this] {
    ls_filter_.states = ls_states_;
    ls_filter_.limit = ls_limit_;
    ls_filter_.before = ls_before_;
    return list(client_, ls_filter_);
  });
  ls->add_option("--state", ls_states_, "comma-separated states, e.g. queued,running");
  ls->add_option("--limit", ls_limit_, "at most this many (1..1000)")->check(CLI::Range(1, 1000));
  ls->add_option("--name", ls_filter_.name, "only jobs with this name");
  ls->add_option("--label", ls_filter_.label, "only jobs with this label KEY=VALUE");
  ls->add_option("--owner", ls_filter_.owner, "only jobs of this token holder");
  ls->add_option("--before", ls_before_, "only jobs with a smaller id (the next page)")
      ->check(CLI::PositiveNumber);
  add(app, "cancel", "cancel a job (a running one is stopped)",
      [this] { return cancel(client_, job_id_); })
      ->add_option("id", job_id_, "job id")
      ->required();
  CLI::App* fetch_cmd =
      add(app, "fetch", "download a job's files: all of them (into ./job-ID), or one PATH (into .)",
          [this] { return fetch(client_, job_id_, fetch_path_, fetch_dir_); });
  fetch_cmd->add_option("id", job_id_, "job id")->required();
  fetch_cmd->add_option("path", fetch_path_, "one file, relative to the job's directory");
  fetch_cmd->add_option("-o,--output-dir", fetch_dir_, "where to put them");
  add(app, "rm", "remove ended jobs: their records and files (like ts -r)",
      [this] { return remove(client_, rm_ids_); })
      ->add_option("ids", rm_ids_, "job ids")
      ->required();
  CLI::App* logs_cmd =
      add(app, "logs", "print a job's stdout (or --stderr); -f follows it",
          [this] { return logs(client_, job_id_, logs_stderr_, logs_follow_, logs_attempt_); });
  logs_cmd->add_option("id", job_id_, "job id")->required();
  logs_cmd->add_flag("--stderr", logs_stderr_, "the job's stderr instead of stdout");
  logs_cmd->add_flag("-f,--follow", logs_follow_, "keep printing until the job ends");
  logs_cmd->add_option("--attempt", logs_attempt_, "an earlier attempt's log (a retried job)")
      ->check(CLI::PositiveNumber);
}

void ClientCommandLine::add_views(CLI::App& app) {
  add(app, "gpus", "show GPUs and their VRAM", [this] { return gpus(client_); });
  add(app, "top", "a live full-screen view: GPUs, running jobs, the queue, warm workers", [this] {
    return top(client_, top_once_);
  })->add_flag("--once", top_once_, "print one screen and exit (no terminal needed)");
  add(app, "tasks", "list the task catalog", [this] { return tasks(client_); });
  CLI::App* usage_cmd = add(app, "usage", "VRAM and GPU time used, per owner, task or day",
                            [this] { return usage(client_, usage_options_); });
  usage_cmd->add_option("--from", usage_options_.from, "first day, YYYY-MM-DD (30 days back)");
  usage_cmd->add_option("--to", usage_options_.to, "last day, YYYY-MM-DD (today)");
  usage_cmd->add_option("--by", usage_options_.by, "owner, task, day: comma-separated")
      ->capture_default_str();
  usage_cmd->add_option("--owner", usage_options_.owner, "one owner (admins)");
  add(app, "owners", "the owners, their limits and what each holds now (admins)",
      [this] { return owners(client_); });
  CLI::App* workers_cmd =
      add(app, "workers", "show the resident warm workers", [this] { return workers(client_); });
  add(*workers_cmd, "unload", "unload an idle warm worker",
      [this] { return unload_worker(client_, worker_id_); })
      ->add_option("id", worker_id_, "worker id")
      ->required();
}

int ClientCommandLine::submit_job(std::vector<std::string> raw_argv) {
  SubmitOptions& s = submit_options_;
  if (!raw_argv.empty()) {
    if (!s.command.empty()) {
      std::cerr << "vramq submit: give the argv with --command or after --, not both\n";
      return kExitUsage;
    }
    s.command = std::move(raw_argv);
  }
  if (s.task.empty() && s.command.empty()) {
    std::cerr << "vramq submit: what to run? give a TASK (vramq tasks lists them), e.g. "
                 "vramq submit fake-model -p seconds=2 --wait, or a command after --, e.g. "
                 "vramq submit -- /usr/bin/nvidia-smi\n";
    return kExitUsage;
  }
  if (!s.task.empty() && !s.command.empty()) {
    std::cerr << "vramq submit: give a TASK or a command after -- (or --command), not both\n";
    return kExitUsage;
  }
  return submit(client_, s);
}

std::optional<int> ClientCommandLine::run(std::vector<std::string> raw_argv) {
  if (submit_->parsed()) return submit_job(std::move(raw_argv));
  for (auto& [cmd, call] : commands_) {
    if (cmd->parsed() && call) return call();
  }
  return std::nullopt;
}

}  // namespace vramq::cli
