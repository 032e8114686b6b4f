#include "service/job_request.hpp"

#include "core/file_param.hpp"

#include <fmt/format.h>
#include <algorithm>

#include "exec/program_path.hpp"
#include "service/job_environment.hpp"
#include "service/params_json.hpp"
#include "util/real_path.hpp"

namespace vramq::service {
using core::Job;

namespace {

// A raw command: its argv as given, run in the job's directory.
std::optional<SubmitError> raw_command(SubmitRequest& req, Job& job, const JobContext& ctx) {
  if (!ctx.config.allow_raw_commands) {
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
  job.spec.cwd = ctx.dir;
  job.spec.vram_mb = req.vram_mb.value_or(ctx.config.default_vram_mb);
  job.spec.timeout_s = req.timeout_s.value_or(0);
  job.spec.env = std::move(req.env);
  return std::nullopt;
}

// What the client asks that the task does not allow: an environment variable, a timeout.
std::optional<SubmitError> task_refusal(const SubmitRequest& req, const core::TaskDef& task) {
  for (const auto& [name, value] : req.env) {
    if (std::ranges::find(task.env_allow, name) == task.env_allow.end()) {
      return SubmitError{
          SubmitErrc::unprocessable, "env." + name,
          fmt::format("env.{}: task '{}' does not let clients set {} (allowed: {})", name,
                      task.name, name,
                      task.env_allow.empty() ? "none"
                                             : fmt::format("{}", fmt::join(task.env_allow, ", ")))};
    }
  }
  if (req.timeout_s && task.timeout_s > 0 && *req.timeout_s > task.timeout_s) {
    return SubmitError{
        SubmitErrc::unprocessable, "timeout_s",
        fmt::format("timeout_s: task '{}' allows at most {} s", task.name, task.timeout_s)};
  }
  return std::nullopt;
}

// A catalog task: its parameters resolved into argv, cwd, env and a reservation.
std::optional<SubmitError> task_job(SubmitRequest& req, Job& job, const JobContext& ctx) {
  const core::TaskDef* task = ctx.catalog.find(req.task);
  if (task == nullptr) {
    return SubmitError{
        SubmitErrc::unprocessable, "task",
        fmt::format("unknown task '{}' (vramq tasks, or GET /v1/tasks, lists them)", req.task)};
  }
  std::map<std::string, std::string, std::less<>> files;  // where its uploads will be
  if (req.inputs) {
    for (const StagedFile& f : req.inputs->files) {
      const core::ParamDef* def = nullptr;
      for (const core::ParamDef& p : task->params) {
        if (p.name == f.param) def = &p;
      }
      // The limits were checked as the file arrived; checked again against this task.
      if (def != nullptr && def->type == core::ParamType::file) {
        auto fits = core::check_upload_size(*def, f.bytes);
        if (fits) fits = core::check_upload_type(*def, f.media_type);
        if (!fits)
          return SubmitError{SubmitErrc::unprocessable, "params." + f.param, fits.error().message};
      }
      files.emplace(f.param, fmt::format("{}/inputs/{}", ctx.dir, f.param));
    }
  }
  auto resolved = core::resolve_task(*task, req.params, ctx.dir, job.id, util::real_path, files);
  if (!resolved) {
    return SubmitError{SubmitErrc::unprocessable, resolved.error().field,
                       fmt::format("{}: {}", resolved.error().field, resolved.error().message)};
  }
  if (std::optional<SubmitError> no = task_refusal(req, *task)) return no;
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
    if (auto learned = ctx.footprints.reservation(task->name, bucket)) {
      job.spec.vram_mb = std::min(*learned, std::max<std::int64_t>(ctx.largest_mb, 0));
    }
  }
  job.spec.timeout_s = req.timeout_s.value_or(resolved->timeout_s);
  job.spec.preemptible = req.preemptible.value_or(task->preemptible);
  return std::nullopt;
}

}  // namespace

boost::system::result<Job, SubmitError> make_job(SubmitRequest& req, core::JobId id,
                                                 const JobContext& ctx) {
  Job job;
  job.id = id;
  job.submitted_at_ms = ctx.now_ms;
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
  job.spec.preemptible = req.preemptible.value_or(false);
  std::optional<SubmitError> no =
      req.task.empty() ? raw_command(req, job, ctx) : task_job(req, job, ctx);
  if (no) return *no;
  return job;
}

}  // namespace vramq::service
