#pragma once
// Every option of `vramq serve` declared once, in one table: its TOML key, its flag, the member
// of Config it sets, its help, its check. From the table come the TOML reader (parse_config), the
// per-option checks (validate_config), the command-line flags (app/serve_flags) and the reference
// table in docs/operations.md (a unit test keeps the docs equal to config_reference()). A new
// option is one Config member and one row here.

#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/config.hpp"

namespace vramq::core {

using ConfigField = std::variant<std::string Config::*, std::int64_t Config::*, bool Config::*,
                                 double Config::*, std::vector<std::string> Config::*>;

struct ConfigOption {
  std::string_view key;  // the TOML key
  ConfigField field;
  std::string_view help;
  std::string_view value_name = "N";  // how the reference and --help write its value
  // An integer's allowed range, both ends included; `range_note` follows the check's message
  // ("(0: no cap)").
  std::int64_t min = std::numeric_limits<std::int64_t>::min();
  std::int64_t max = std::numeric_limits<std::int64_t>::max();
  std::string_view range_note = "";
  std::vector<std::string_view> choices = {};  // a string's allowed values (empty: any)
  // A value written as text where the field is a number (a flag's value, or a TOML string):
  // parsed by this (durations such as "7d", percentages such as "10%").
  Result<void> (*from_text)(std::string_view text, Config& c) = nullptr;
  std::string_view flag = "";  // when it is not "--" + the key with '-' for '_'
  bool not_empty = false;      // a string that must not be empty
};

// The table, in the order --help and the reference show it.
std::span<const ConfigOption> config_options();

// The option's command-line flag ("--vram-buffer-mb").
std::string flag_of(const ConfigOption& o);

// The option of a TOML key; nullptr if there is none.
const ConfigOption* find_option(std::string_view key);

// Sets the option from text as given on the command line (a number, a word, "7d", "10%").
Result<void> apply_text(const ConfigOption& o, std::string_view text, Config& c);

// The option's own check (range, choices, not empty) on `c`; the error names the key.
Result<void> check_option(const ConfigOption& o, const Config& c);

// The option's value in `c` as a person would write it in the TOML file.
std::string value_text(const ConfigOption& o, const Config& c);

// The Markdown reference table of every option (docs/operations.md holds a copy).
std::string config_reference();

}  // namespace vramq::core
