#pragma once
// What the configuration and the task catalog ask for, checked against the GPUs found at
// start-up: settings that leave no GPU usable and tasks no GPU could ever run are errors (the
// server refuses to start, exit 2, naming the key); figures that only some submissions would
// hit are warnings. Pure.

#include <cstdint>
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

}  // namespace vramq::core
