#pragma once
// What the configuration and the task catalog ask for, checked against the GPUs found at
// start-up: settings that leave no GPU usable and tasks no GPU could ever run are errors (the
// server refuses to start, exit 2, naming the key); figures that only some submissions would
// hit are warnings. Pure.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.hpp"
#include "core/task_catalog.hpp"

namespace vramq::core {

struct StartupReport {
  std::vector<std::string> errors;
  std::vector<std::string> warnings;
};

StartupReport check_against_gpus(const Config& config, const TaskCatalog& catalog,
                                 std::span<const std::int64_t> gpu_totals_mb);

// Whether only this host can reach `host` (127.0.0.0/8, ::1, localhost).
bool is_loopback_host(std::string_view host);

// Who could use what the configuration opens: raw commands without tokens on an address other
// hosts can reach are an error (unless unsafe_raw_commands_without_tokens, then a warning).
StartupReport check_exposure(const Config& config);

// A data directory whose mode lets others read or write (any bit of 066, or of 026 when it is
// shared with its group; search alone is fine): the warning to give, else nothing.
std::optional<std::string> data_dir_mode_warning(std::string_view dir, unsigned mode,
                                                 bool share_with_group);

// The open-file limit the server raises its soft limit to: the hard limit, at most this (a huge
// soft limit is inherited by jobs, and some programs loop over every possible descriptor).
inline constexpr std::uint64_t kNofileTarget = 65536;

// How many connections fit under an open-file limit of `nofile` descriptors, keeping room for
// the store, the GPU library, running jobs' supervisors and log reads (at least 256, or an
// eighth of the limit). Lowers `configured` when it does not fit and says so in a warning.
struct ConnectionCap {
  std::int64_t connections = 0;
  std::vector<std::string> warnings;
};
ConnectionCap fit_connections(std::int64_t configured, std::uint64_t nofile);

}  // namespace vramq::core
