#include "core/config_options.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>

#include "core/units.hpp"
#include "core/vram_guard.hpp"

namespace vramq::core {
namespace {

Result<void> retain_ended_text(std::string_view text, Config& c) {
  auto v = parse_duration_s(text);
  if (!v) return v.error();
  c.retain_ended_s = *v;
  return {};
}

Result<void> half_life_text(std::string_view text, Config& c) {
  auto v = parse_duration_s(text);
  if (!v) return v.error();
  c.fairshare_half_life_s = *v;
  return {};
}

Result<void> tolerance_text(std::string_view text, Config& c) {
  auto v = parse_tolerance(text);
  if (!v) return v.error();
  c.vram_tolerance = *v;
  return {};
}

using C = Config;

// The rows, by group, in the order --help and the reference show them. Keep a row's help to
// what a person choosing the value needs; Config's comments say the rest.
// Where it listens and keeps its data, the GPUs, the queue, who may submit what, job supervision.
std::vector<ConfigOption> service_rows() {
  return {
      {.key = "listen",
       .field = &C::listen,
       .help = "HOST:PORT to listen on (port 0 picks a free one; the log says which)",
       .value_name = "HOST:PORT"},
      {.key = "data_dir",
       .field = &C::data_dir,
       .help = "where the job store and job directories live",
       .value_name = "DIR",
       .not_empty = true},
      {.key = "gpus",
       .field = &C::gpus,
       .help = "nvml | auto | sim:SPEC (sim:24GiB, sim:2x24GiB, sim:80GiB,24GiB)",
       .value_name = "SPEC"},
      {.key = "tasks",
       .field = &C::tasks_file,
       .help = "task catalog (TOML); empty: the embedded demo catalog",
       .value_name = "FILE"},
      {.key = "queue_max",
       .field = &C::queue_max,
       .help = "most jobs waiting before 429",
       .min = 1},
      {.key = "vram_buffer_mb",
       .field = &C::vram_buffer_mb,
       .help = "VRAM kept free on every GPU (MiB)",
       .min = 0},
      {.key = "default_vram_mb",
       .field = &C::default_vram_mb,
       .help = "reservation of raw commands without vram_mb (MiB)",
       .min = 0},
      {.key = "allow_raw_commands",
       .field = &C::allow_raw_commands,
       .help = "accept {\"command\": [...]} submissions"},
      {.key = "unsafe_raw_commands_without_tokens",
       .field = &C::unsafe_raw_commands_without_tokens,
       .help = "allow raw commands without a token file on a non-loopback address (anyone who "
               "reaches the port may run any command as this user)"},
      {.key = "token_file",
       .field = &C::token_file,
       .help = "bearer tokens, one per line (TOKEN:OWNER[:admin])",
       .value_name = "FILE"},
      {.key = "owners",
       .field = &C::owners_file,
       .help = "owners file (TOML): owners, their hashed tokens, roles, groups and limits; "
               "replaces token_file; reloaded on SIGHUP",
       .value_name = "FILE"},
      {.key = "run_as",
       .field = &C::run_as,
       .help = "the Unix user jobs run as when their owner names none (run_as in the owners "
               "file); needs vramq to run as root (\"\": as vramq's own user)",
       .value_name = "USER"},
      {.key = "visibility",
       .field = &C::visibility,
       .help = "with tokens, who reads a job's details, logs, files and events: owner (its "
               "owner and admins; others see what a queue listing shows) or all",
       .value_name = "WHO",
       .choices = {"owner", "all"}},
      {.key = "backfill_bound_s",
       .field = &C::backfill_bound_s,
       .help = "longest wait before a job may no longer be passed",
       .min = 0},
      {.key = "fairshare_half_life",
       .field = &C::fairshare_half_life_s,
       .help = "with owners, within a priority the owner with the least recent VRAM use goes "
               "first; use is halved every DURATION (7d, 12h; 0: FIFO across owners)",
       .value_name = "DURATION",
       .min = 0,
       .max = std::int64_t{3650} * 86400,
       .from_text = half_life_text},
      {.key = "kill_grace_s",
       .field = &C::kill_grace_s,
       .help = "SIGTERM to SIGKILL grace",
       .min = 0},
      {.key = "preempt_grace_s",
       .field = &C::preempt_grace_s,
       .help = "a borrowed job reclaimed for an owner's guarantee: SIGTERM to SIGKILL grace "
               "(then it is queued again)",
       .min = 0,
       .max = 86400},
      {.key = "worker_ping_ms",
       .field = &C::worker_ping_ms,
       .help = "how often an idle warm worker is pinged (unanswered by the next: stopped)",
       .min = 10},
      {.key = "orphan_grace_s",
       .field = &C::orphan_grace_s,
       .help = "how long running jobs wait for a restarted vramq before their supervisors end them",
       .min = 0},
      {.key = "stop_jobs_on_exit",
       .field = &C::stop_jobs_on_exit,
       .help = "at SIGTERM/SIGINT end running jobs (interrupted) instead of leaving them running "
               "for the next start"},
      {.key = "gpu_poll_ms", .field = &C::gpu_poll_ms, .help = "GPU reading period", .min = 10},
  };
}

// Live events, HTTP limits, log caps, the data directory's mode.
std::vector<ConfigOption> limit_rows() {
  return {
      {.key = "event_ring_size",
       .field = &C::event_ring_size,
       .help = "events kept for GET /v1/events listeners that reconnect",
       .min = 0,
       .range_note = " (0: no events)"},
      {.key = "event_ring_mb",
       .field = &C::event_ring_mb,
       .help = "the most memory those kept events may take (MiB)",
       .min = 1,
       .max = 65536},
      {.key = "event_heartbeat_s",
       .field = &C::event_heartbeat_s,
       .help = "an idle event stream sends a heartbeat this often",
       .min = 1},
      {.key = "body_limit_bytes",
       .field = &C::body_limit_bytes,
       .help = "largest request body accepted (413 above)",
       .min = 1024},
      {.key = "max_upload_bytes",
       .field = &C::max_upload_bytes,
       .help = "files uploaded with one job, all together (413 above)",
       .min = 1,
       .max = std::int64_t{1} << 44},
      {.key = "upload_reserve_mb",
       .field = &C::upload_reserve_mb,
       .help = "uploads leave this much free on the data directory's disk (507 otherwise)",
       .min = 0,
       .max = std::int64_t{1} << 30},
      {.key = "http_timeout_s",
       .field = &C::http_timeout_s,
       .help = "a request must arrive whole within this (each write too)",
       .min = 1},
      {.key = "first_request_timeout_s",
       .field = &C::first_request_timeout_s,
       .help = "a new connection's first request header must arrive within this",
       .min = 1},
      {.key = "max_connections",
       .field = &C::max_connections,
       .help = "open connections before new ones are refused (lowered to fit the open-file limit)",
       .min = 1},
      {.key = "max_connections_per_client",
       .field = &C::max_connections_per_client,
       .help = "open connections per client address (IPv4, or IPv6 /64)",
       .min = 1},
      {.key = "max_connections_per_owner",
       .field = &C::max_connections_per_owner,
       .help = "open connections per token holder (with tokens), counted from its first "
               "authenticated request; keep it below max_connections_per_client",
       .min = 1},
      {.key = "max_buffered_body_bytes",
       .field = &C::max_buffered_body_bytes,
       .help = "request bodies held in memory at once, across connections (at least one body)",
       .min = 1024},
      {.key = "max_waiters_per_job",
       .field = &C::max_waiters_per_job,
       .help = "log followers and ?wait requests held open on one job",
       .min = 1},
      {.key = "max_waiters_per_owner",
       .field = &C::max_waiters_per_owner,
       .help = "log followers, ?wait and /run-script requests one token holder keeps open",
       .min = 1},
      {.key = "log_limit_bytes",
       .field = &C::log_limit_bytes,
       .help = "each job log file's cap; past it the job is stopped",
       .min = 0,
       .range_note = " (0: no cap)"},
      {.key = "share_data_with_group",
       .field = &C::share_data_with_group,
       .help = "let the data directory's group read it (0750/0640 instead of 0700/0600)"},
  };
}

// Retention, the VRAM policy, GPU locks and NVML, log following.
std::vector<ConfigOption> policy_rows() {
  return {
      {.key = "retain_ended",
       .field = &C::retain_ended_s,
       .help = "remove ended jobs (rows and directories) this long after they ended: 7d, 12h, "
               "30m, 3600s or a number of seconds",
       .value_name = "DURATION",
       .min = 0,
       .range_note = " (0: kept)",
       .from_text = retain_ended_text},
      {.key = "retain_ended_count",
       .field = &C::retain_ended_count,
       .help = "keep at most this many ended jobs, the newest",
       .min = 0,
       .range_note = " (0: no cap)"},
      {.key = "retention_interval_s",
       .field = &C::retention_interval_s,
       .help = "how often retention looks for ended jobs to remove",
       .min = 1},
      {.key = "vram_tolerance",
       .field = &C::vram_tolerance,
       .help = "use allowed above a job's reservation before it counts as over: a fraction "
               "(0.1) or a percentage (\"10%\")",
       .value_name = "FRACTION",
       .min = 0,
       .from_text = tolerance_text},
      {.key = "vram_grace_ms",
       .field = &C::vram_grace_ms,
       .help = "how long a job may stay over before vram_policy acts",
       .min = 0},
      {.key = "vram_policy",
       .field = &C::vram_policy,
       .help = "kill (end the job, reason vram_exceeded) or warn (record it on the job)",
       .value_name = "POLICY",
       .choices = {"kill", "warn"}},
      {.key = "gpu_lock_dir",
       .field = &C::gpu_lock_dir,
       .help = "where per-GPU lock files live (one vramq per GPU on a host)",
       .value_name = "DIR"},
      {.key = "nvml_library",
       .field = &C::nvml_library,
       .help = "the NVML library that --gpus nvml|auto loads",
       .value_name = "PATH"},
      {.key = "log_follow",
       .field = &C::log_follow,
       .help = "how log followers learn of writes: inotify, or poll (every 2 s; a data "
               "directory on NFS)",
       .value_name = "HOW",
       .choices = {"inotify", "poll"}},
  };
}

// The Slurm executor.
std::vector<ConfigOption> slurm_rows() {
  return {
      {.key = "executor",
       .field = &C::executor,
       .help = "where jobs run: local (this host's GPUs) or slurm (a cluster, through SLURM_CONF)",
       .value_name = "KIND",
       .choices = {"local", "slurm"}},
      {.key = "slurm_partition",
       .field = &C::slurm_partition,
       .help = "Slurm partition for jobs (empty: the cluster's default)",
       .value_name = "NAME"},
      {.key = "slurm_gpu_partition",
       .field = &C::slurm_gpu_partition,
       .help = "Slurm partition of whole GPUs for jobs on several GPUs (empty: such jobs are "
               "refused); must differ from slurm_partition",
       .value_name = "NAME"},
      {.key = "slurm_account",
       .field = &C::slurm_account,
       .help = "Slurm account to charge",
       .value_name = "NAME"},
      {.key = "slurm_sbatch_args",
       .field = &C::slurm_sbatch_args,
       .help = "extra sbatch arguments, each as given (the flag takes one; repeat it)",
       .value_name = "ARG",
       .flag = "--slurm-sbatch-arg"},
      {.key = "slurm_vram",
       .field = &C::slurm_vram,
       .help = "how VRAM is asked of Slurm: shard (per GPU) or vram (a count-only GRES, exact "
               "only on one-GPU nodes)",
       .value_name = "MODE",
       .choices = {"shard", "vram"}},
      {.key = "slurm_shard_mb",
       .field = &C::slurm_shard_mb,
       .help = "one Slurm shard's VRAM in MiB (gres.conf's per-GPU Count = its MiB / this)",
       .min = 1},
      {.key = "slurm_poll_ms",
       .field = &C::slurm_poll_ms,
       .help = "how often the cluster's queue is read (one squeue for all jobs)",
       .min = 100},
  };
}

const std::vector<ConfigOption>& table() {
  static const std::vector<ConfigOption> rows = [] {
    std::vector<ConfigOption> all;
    for (auto group : {service_rows, limit_rows, policy_rows, slurm_rows}) {
      std::vector<ConfigOption> part = group();
      all.insert(all.end(), part.begin(), part.end());
    }
    return all;
  }();
  return rows;
}

std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '"' || ch == '\\') out += '\\';
    out += ch;
  }
  return out + "\"";
}

std::string choices_text(const std::vector<std::string_view>& choices) {
  if (choices.size() == 2) return fmt::format("{} or {}", choices[0], choices[1]);
  return fmt::format("one of {}", fmt::join(choices, ", "));
}

}  // namespace

std::span<const ConfigOption> config_options() {
  return table();
}

std::string flag_of(const ConfigOption& o) {
  if (!o.flag.empty()) return std::string(o.flag);
  std::string flag = "--" + std::string(o.key);
  std::ranges::replace(flag, '_', '-');
  return flag;
}

const ConfigOption* find_option(std::string_view key) {
  auto it = std::ranges::find(table(), key, &ConfigOption::key);
  return it == table().end() ? nullptr : &*it;
}

Result<void> apply_text(const ConfigOption& o, std::string_view text, Config& c) {
  if (o.from_text != nullptr) return o.from_text(text, c);
  return std::visit(
      [&](auto member) -> Result<void> {
        auto& out = c.*member;
        using T = std::remove_reference_t<decltype(out)>;
        if constexpr (std::is_same_v<T, std::string>) {
          out = std::string(text);
        } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          out.emplace_back(text);
        } else if constexpr (std::is_same_v<T, bool>) {
          if (text != "true" && text != "false") {
            return Error{fmt::format("{}: '{}' is not true or false", o.key, text)};
          }
          out = text == "true";
        } else {
          T v{};
          auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
          if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) {
            return Error{fmt::format("{}: '{}' is not a number", o.key, text)};
          }
          out = v;
        }
        return {};
      },
      o.field);
}

Result<void> check_option(const ConfigOption& o, const Config& c) {
  return std::visit(
      [&](auto member) -> Result<void> {
        const auto& v = c.*member;
        using T = std::remove_cvref_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          if (o.not_empty && v.empty()) return Error{fmt::format("{} must not be empty", o.key)};
          if (!o.choices.empty() && std::ranges::find(o.choices, v) == o.choices.end()) {
            return Error{fmt::format("{} must be {}", o.key, choices_text(o.choices))};
          }
        } else if constexpr (std::is_same_v<T, std::int64_t> || std::is_same_v<T, double>) {
          auto lo = static_cast<T>(o.min);
          auto hi = static_cast<T>(o.max);
          if (!(v >= lo && v <= hi)) {  // a NaN is outside too
            if (o.max == std::numeric_limits<std::int64_t>::max()) {
              return Error{fmt::format("{} must be >= {}{}", o.key, o.min, o.range_note)};
            }
            return Error{
                fmt::format("{} must be between {} and {}{}", o.key, o.min, o.max, o.range_note)};
          }
        }
        return {};
      },
      o.field);
}

std::string value_text(const ConfigOption& o, const Config& c) {
  return std::visit(
      [&](auto member) -> std::string {
        const auto& v = c.*member;
        using T = std::remove_cvref_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          return quoted(v);
        } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          std::vector<std::string> items;
          items.reserve(v.size());
          for (const std::string& s : v)
            items.push_back(quoted(s));
          return fmt::format("[{}]", fmt::join(items, ", "));
        } else if constexpr (std::is_same_v<T, bool>) {
          return v ? "true" : "false";
        } else {
          return fmt::format("{}", v);
        }
      },
      o.field);
}

std::string config_reference() {
  std::string out =
      "| TOML key | flag | default | what |\n"
      "| --- | --- | --- | --- |\n";
  Config defaults;
  for (const ConfigOption& o : table()) {
    bool is_flag = std::holds_alternative<bool Config::*>(o.field);
    std::string flag = is_flag ? flag_of(o) : fmt::format("{} {}", flag_of(o), o.value_name);
    std::string help;
    for (char ch : o.help) {
      if (ch == '|') help += '\\';  // not a cell's end
      help += ch;
    }
    out += fmt::format("| `{}` | `{}` | `{}` | {} |\n", o.key, flag, value_text(o, defaults), help);
  }
  return out;
}

}  // namespace vramq::core
