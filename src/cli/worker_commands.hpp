#pragma once
// `vramq workers` (the resident warm workers) and `vramq workers unload ID`.

#include <cstdint>

#include "cli/client_commands.hpp"

namespace vramq::cli {

int workers(const ClientOptions& c);
int unload_worker(const ClientOptions& c, std::int64_t id);

}  // namespace vramq::cli
