#pragma once
// `vramq serve`: builds the service from its config and runs the event loop until SIGINT or
// SIGTERM. Returns the process exit code.

#include "core/config.hpp"

namespace vramq::app {

int serve(core::Config config);

}  // namespace vramq::app
