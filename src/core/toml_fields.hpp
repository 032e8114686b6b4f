#pragma once
// Reading an operator's TOML file field by field, with errors that name the file, the place and
// the problem ("task catalog: tasks.x.vram: unknown key 'bse_mb'"). Shared by the task catalog
// and the owners file: typos are refused, never ignored; numbers are exact (a float where an
// integer belongs is an error, not a conversion). Pure; no I/O.

#include <toml++/toml.h>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace vramq::core {

// Where a field is, for errors: the file's description ("task catalog") and the dotted path.
// Views: the strings must outlive the place (never a temporary's).
struct TomlPlace {
  std::string_view file;
  std::string_view where;
  Error error(std::string_view what) const;
};

// Every key of `t` must be one of `allowed`.
Result<void> check_keys(const toml::table& t, TomlPlace at,
                        std::initializer_list<std::string_view> allowed);

// An integer key (absent: `fallback`) within [lo, hi].
Result<std::int64_t> integer_key(const toml::table& t, std::string_view key, TomlPlace at,
                                 std::int64_t fallback, std::int64_t lo, std::int64_t hi);

// An array of strings (absent: empty).
Result<std::vector<std::string>> string_array(const toml::node* node, TomlPlace at);

}  // namespace vramq::core
