#include "core/config.hpp"

#include <fmt/format.h>

#include <toml++/toml.h>
#include <charconv>

#include "core/units.hpp"
#include "core/vram_guard.hpp"

namespace vramq::core {
namespace {

template <class T>
Result<void> read_key(const toml::table& t, std::string_view key, T& out) {
  const toml::node* node = t.get(key);
  if (node == nullptr) return {};
  if constexpr (std::is_same_v<T, bool>) {
    if (!node->is_boolean()) return Error{fmt::format("config: '{}' must be true or false", key)};
    out = *node->value<bool>();
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!node->is_string()) return Error{fmt::format("config: '{}' must be a string", key)};
    out = *node->value<std::string>();
  } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
    const toml::array* a = node->as_array();
    if (a == nullptr || !a->is_homogeneous(toml::node_type::string)) {
      return Error{fmt::format("config: '{}' must be a list of strings", key)};
    }
    out.clear();
    for (const toml::node& e : *a)
      out.push_back(*e.value<std::string>());
  } else if constexpr (std::is_same_v<T, double>) {
    if (!node->is_number()) return Error{fmt::format("config: '{}' must be a number", key)};
    out = *node->value<double>();
  } else {
    if (!node->is_integer()) return Error{fmt::format("config: '{}' must be an integer", key)};
    out = *node->value<std::int64_t>();
  }
  return {};
}

}  // namespace

Result<Config> parse_config(std::string_view toml_text, Config c) {
  toml::table t;
  try {
    t = toml::parse(toml_text);
  } catch (const toml::parse_error& e) {
    return Error{fmt::format("config: line {}: {}", e.source().begin.line, e.description())};
  }
  for (auto&& [key, node] : t) {
    std::string_view k = key.str();
    Result<void> r = Error{fmt::format("config: unknown key '{}'", k)};
    if (k == "listen") r = read_key(t, k, c.listen);
    if (k == "data_dir") r = read_key(t, k, c.data_dir);
    if (k == "gpus") r = read_key(t, k, c.gpus);
    if (k == "tasks") r = read_key(t, k, c.tasks_file);
    if (k == "queue_max") r = read_key(t, k, c.queue_max);
    if (k == "vram_buffer_mb") r = read_key(t, k, c.vram_buffer_mb);
    if (k == "default_vram_mb") r = read_key(t, k, c.default_vram_mb);
    if (k == "allow_raw_commands") r = read_key(t, k, c.allow_raw_commands);
    if (k == "unsafe_raw_commands_without_tokens") {
      r = read_key(t, k, c.unsafe_raw_commands_without_tokens);
    }
    if (k == "token_file") r = read_key(t, k, c.token_file);
    if (k == "backfill_bound_s") r = read_key(t, k, c.backfill_bound_s);
    if (k == "kill_grace_s") r = read_key(t, k, c.kill_grace_s);
    if (k == "worker_ping_ms") r = read_key(t, k, c.worker_ping_ms);
    if (k == "orphan_grace_s") r = read_key(t, k, c.orphan_grace_s);
    if (k == "stop_jobs_on_exit") r = read_key(t, k, c.stop_jobs_on_exit);
    if (k == "gpu_poll_ms") r = read_key(t, k, c.gpu_poll_ms);
    if (k == "event_ring_size") r = read_key(t, k, c.event_ring_size);
    if (k == "event_ring_mb") r = read_key(t, k, c.event_ring_mb);
    if (k == "event_heartbeat_s") r = read_key(t, k, c.event_heartbeat_s);
    if (k == "body_limit_bytes") r = read_key(t, k, c.body_limit_bytes);
    if (k == "http_timeout_s") r = read_key(t, k, c.http_timeout_s);
    if (k == "max_connections") r = read_key(t, k, c.max_connections);
    if (k == "log_limit_bytes") r = read_key(t, k, c.log_limit_bytes);
    if (k == "share_data_with_group") r = read_key(t, k, c.share_data_with_group);
    if (k == "retain_ended") {
      // A duration string ("7d") or, like the other *_s keys, a number of seconds.
      if (const auto* text = node.as_string()) {
        auto v = parse_duration_s(text->get());
        r = v ? Result<void>()
              : Result<void>(Error{"config: 'retain_ended': " + v.error().message});
        if (v) c.retain_ended_s = *v;
      } else {
        r = read_key(t, k, c.retain_ended_s);
      }
    }
    if (k == "retain_ended_count") r = read_key(t, k, c.retain_ended_count);
    if (k == "retention_interval_s") r = read_key(t, k, c.retention_interval_s);
    if (k == "max_connections_per_client") r = read_key(t, k, c.max_connections_per_client);
    if (k == "first_request_timeout_s") r = read_key(t, k, c.first_request_timeout_s);
    if (k == "max_buffered_body_bytes") r = read_key(t, k, c.max_buffered_body_bytes);
    if (k == "max_waiters_per_job") r = read_key(t, k, c.max_waiters_per_job);
    if (k == "max_waiters_per_owner") r = read_key(t, k, c.max_waiters_per_owner);
    if (k == "vram_tolerance") {
      // A fraction (0.1) or, as on the command line, a percentage string ("10%").
      if (const auto* text = node.as_string()) {
        auto v = parse_tolerance(text->get());
        r = v ? Result<void>()
              : Result<void>(Error{"config: 'vram_tolerance': " + v.error().message});
        if (v) c.vram_tolerance = *v;
      } else {
        r = read_key(t, k, c.vram_tolerance);
        if (r && c.vram_tolerance > 1) {
          r = Error{fmt::format(
              "config: 'vram_tolerance' {:g} would be {:g} %: give a fraction up to 1 or a "
              "percentage string (\"{:g}%\")",
              c.vram_tolerance, c.vram_tolerance * 100, c.vram_tolerance)};
        }
      }
    }
    if (k == "vram_grace_ms") r = read_key(t, k, c.vram_grace_ms);
    if (k == "vram_policy") r = read_key(t, k, c.vram_policy);
    if (k == "gpu_lock_dir") r = read_key(t, k, c.gpu_lock_dir);
    if (k == "nvml_library") r = read_key(t, k, c.nvml_library);
    if (k == "log_follow") r = read_key(t, k, c.log_follow);
    if (k == "executor") r = read_key(t, k, c.executor);
    if (k == "slurm_partition") r = read_key(t, k, c.slurm_partition);
    if (k == "slurm_gpu_partition") r = read_key(t, k, c.slurm_gpu_partition);
    if (k == "slurm_account") r = read_key(t, k, c.slurm_account);
    if (k == "slurm_sbatch_args") r = read_key(t, k, c.slurm_sbatch_args);
    if (k == "slurm_vram") r = read_key(t, k, c.slurm_vram);
    if (k == "slurm_shard_mb") r = read_key(t, k, c.slurm_shard_mb);
    if (k == "slurm_poll_ms") r = read_key(t, k, c.slurm_poll_ms);
    if (!r) return r.error();
  }
  return c;
}

Result<void> validate_config(const Config& c) {
  if (auto hp = parse_host_port(c.listen); !hp) return hp.error();
  if (c.queue_max < 1) return Error{"queue_max must be >= 1"};
  if (c.vram_buffer_mb < 0) return Error{"vram_buffer_mb must be >= 0"};
  if (c.default_vram_mb < 0) return Error{"default_vram_mb must be >= 0"};
  if (c.backfill_bound_s < 0) return Error{"backfill_bound_s must be >= 0"};
  if (c.kill_grace_s < 0) return Error{"kill_grace_s must be >= 0"};
  if (c.orphan_grace_s < 0) return Error{"orphan_grace_s must be >= 0"};
  if (c.worker_ping_ms < 10) return Error{"worker_ping_ms must be >= 10"};
  if (c.gpu_poll_ms < 10) return Error{"gpu_poll_ms must be >= 10"};
  if (c.event_ring_size < 0) return Error{"event_ring_size must be >= 0 (0: no events)"};
  if (c.event_ring_mb < 1 || c.event_ring_mb > 65536) {
    return Error{"event_ring_mb must be between 1 and 65536"};
  }
  if (c.event_heartbeat_s < 1) return Error{"event_heartbeat_s must be >= 1"};
  if (c.body_limit_bytes < 1024) return Error{"body_limit_bytes must be >= 1024"};
  if (c.data_dir.empty()) return Error{"data_dir must not be empty"};
  if (c.http_timeout_s < 1) return Error{"http_timeout_s must be >= 1"};
  if (c.max_connections < 1) return Error{"max_connections must be >= 1"};
  if (c.log_limit_bytes < 0) return Error{"log_limit_bytes must be >= 0 (0: no cap)"};
  if (c.retain_ended_s < 0) return Error{"retain_ended must be >= 0 (0: kept)"};
  if (c.retain_ended_count < 0) return Error{"retain_ended_count must be >= 0 (0: no cap)"};
  if (c.retention_interval_s < 1) return Error{"retention_interval_s must be >= 1"};
  if (c.max_connections_per_client < 1) return Error{"max_connections_per_client must be >= 1"};
  if (c.first_request_timeout_s < 1) return Error{"first_request_timeout_s must be >= 1"};
  if (c.max_buffered_body_bytes < c.body_limit_bytes) {
    return Error{"max_buffered_body_bytes must be >= body_limit_bytes (one body must fit)"};
  }
  if (c.max_waiters_per_job < 1) return Error{"max_waiters_per_job must be >= 1"};
  if (c.max_waiters_per_owner < 1) return Error{"max_waiters_per_owner must be >= 1"};
  if (!(c.vram_tolerance >= 0)) return Error{"vram_tolerance must be >= 0"};
  if (c.vram_grace_ms < 0) return Error{"vram_grace_ms must be >= 0"};
  if (!parse_vram_policy(c.vram_policy)) return Error{"vram_policy must be kill or warn"};
  if (c.executor != "local" && c.executor != "slurm")
    return Error{"executor must be local or slurm"};
  if (c.slurm_vram != "shard" && c.slurm_vram != "vram")
    return Error{"slurm_vram must be shard or vram"};
  if (c.slurm_shard_mb < 1) return Error{"slurm_shard_mb must be >= 1"};
  if (c.slurm_poll_ms < 100) return Error{"slurm_poll_ms must be >= 100"};
  if (!c.slurm_gpu_partition.empty() && c.slurm_gpu_partition == c.slurm_partition) {
    return Error{
        "slurm_gpu_partition must differ from slurm_partition: a partition must not mix whole "
        "GPUs with shards (Slurm 22.05 can give a whole GPU whose shards are in use)"};
  }
  if (c.log_follow != "inotify" && c.log_follow != "poll") {
    return Error{"log_follow must be inotify or poll"};
  }
  return {};
}

Result<HostPort> parse_host_port(std::string_view text) {
  std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return Error{fmt::format("listen '{}' must be HOST:PORT", text)};
  }
  HostPort hp;
  hp.host = std::string(text.substr(0, colon));
  if (hp.host.size() > 2 && hp.host.front() == '[' && hp.host.back() == ']') {
    hp.host = hp.host.substr(1, hp.host.size() - 2);
  }
  std::string_view port = text.substr(colon + 1);
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), hp.port);
  if (ec != std::errc{} || end != port.data() + port.size()) {
    return Error{fmt::format("listen '{}': port must be 0..65535", text)};
  }
  return hp;
}

}  // namespace vramq::core
