#pragma once
// The flags of `vramq serve`, made from the option table (core/config_options.hpp): one flag per
// option, setting `config` as the TOML key would. A value the option cannot take is a usage error
// naming the flag, at parse time.

#include <CLI/App.hpp>

#include "core/config.hpp"

namespace vramq::app {

// Adds the flags to `serve`; `config` must outlive the parse.
void add_config_flags(CLI::App& serve, core::Config& config);

// Reads the TOML config file at `path` over the defaults; the error says why it cannot be used.
core::Result<core::Config> read_config_file(const std::string& path);

}  // namespace vramq::app
