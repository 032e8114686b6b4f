#include "core/startup_checks.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace vramq::core {

StartupReport check_against_gpus(const Config& config, const TaskCatalog& catalog,
                                 std::span<const std::int64_t> gpu_totals_mb) {
  StartupReport out;
  std::int64_t largest = 0;
  for (std::int64_t t : gpu_totals_mb)
    largest = std::max(largest, t);
  std::int64_t capacity = largest - config.vram_buffer_mb;
  if (capacity <= 0) {
    out.errors.push_back(fmt::format(
        "vram_buffer_mb (--vram-buffer-mb) {} MiB is kept free on every GPU, which leaves nothing "
        "to give on the largest GPU ({} MiB)",
        config.vram_buffer_mb, largest));
    return out;
  }
  if (config.allow_raw_commands && config.default_vram_mb > capacity) {
    out.warnings.push_back(fmt::format(
        "default_vram_mb (--default-vram-mb) {} MiB is more than any GPU can give ({} MiB): raw "
        "commands without vram_mb will be refused",
        config.default_vram_mb, capacity));
  }
  for (const TaskDef& task : catalog.tasks()) {
    RuleRange range = reservation_range(task);
    if (range.least_mb && *range.least_mb > capacity) {
      out.errors.push_back(fmt::format(
          "tasks.{}.vram: the rule asks for at least {} MiB, more than any GPU can give ({} MiB: "
          "the largest GPU minus the {} MiB buffer), so every submission would be refused",
          task.name, *range.least_mb, capacity, config.vram_buffer_mb));
    } else if (range.default_mb && *range.default_mb > capacity) {
      out.warnings.push_back(fmt::format(
          "tasks.{}.vram: with its default parameters the rule asks for {} MiB, more than any GPU "
          "can give ({} MiB); only submissions with smaller parameters (or vram_mb) will run",
          task.name, *range.default_mb, capacity));
    }
  }
  return out;
}

bool is_loopback_host(std::string_view host) {
  if (host.starts_with('[') && host.ends_with(']')) host = host.substr(1, host.size() - 2);
  return host == "localhost" || host == "::1" || host.starts_with("127.");
}

StartupReport check_exposure(const Config& config) {
  StartupReport out;
  auto hp = parse_host_port(config.listen);
  if (!config.allow_raw_commands || !config.token_file.empty() || !config.owners_file.empty() ||
      !hp || is_loopback_host(hp->host)) {
    return out;
  }
  if (config.unsafe_raw_commands_without_tokens) {
    out.warnings.push_back(fmt::format(
        "UNSAFE: raw commands are on and no tokens are required on {}: anyone who can reach this "
        "port can run any command as this user (--unsafe-raw-commands-without-tokens)",
        config.listen));
  } else {
    out.errors.push_back(fmt::format(
        "allow_raw_commands: raw commands without tokens on {}, an address other hosts can "
        "reach, would let anyone run any command as this user; give --owners or --token-file, "
        "listen on "
        "127.0.0.1, or, knowingly, --unsafe-raw-commands-without-tokens",
        config.listen));
  }
  return out;
}

ConnectionCap fit_connections(std::int64_t configured, std::uint64_t nofile) {
  std::uint64_t reserve = std::max<std::uint64_t>(256, nofile / 8);
  std::int64_t room =
      nofile > reserve + 16 ? static_cast<std::int64_t>(nofile - reserve) : std::int64_t{16};
  ConnectionCap cap{.connections = std::min(configured, room), .warnings = {}};
  if (cap.connections < configured) {
    cap.warnings.push_back(fmt::format(
        "max_connections {} lowered to {}: the open-file limit is {} and {} descriptors are kept "
        "for the store, jobs and logs (raise LimitNOFILE / ulimit -Hn to allow more)",
        configured, cap.connections, nofile, nofile - std::min<std::uint64_t>(nofile, room)));
  }
  return cap;
}

std::optional<std::string> data_dir_mode_warning(std::string_view dir, unsigned mode,
                                                 bool share_with_group) {
  // Search alone (x) lists nothing and opens only what is named and itself open: jobs run as
  // other users (--run-as) need it to reach their directories.
  unsigned loose = mode & (share_with_group ? 027U : 077U) & ~011U;
  if (loose == 0) return std::nullopt;
  return fmt::format(
      "the data directory {} is open to {} (mode {:04o}): its logs, job files and store may hold "
      "what clients sent; chmod {} {}",
      dir, (loose & 007U) != 0 ? "every user" : "its group", mode & 07777U,
      share_with_group ? "750" : "700", dir);
}

}  // namespace vramq::core
