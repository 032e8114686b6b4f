#pragma once
#include <string_view>

namespace vramq::app {

// The text of config/demo-tasks.toml, embedded at build time.
std::string_view demo_catalog();

}  // namespace vramq::app
