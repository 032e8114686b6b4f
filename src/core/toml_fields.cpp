#include "core/toml_fields.hpp"

#include <fmt/format.h>
#include <algorithm>

namespace vramq::core {

Error TomlPlace::error(std::string_view what) const {
  return Error{fmt::format("{}: {}: {}", file, where, what)};
}

Result<void> check_keys(const toml::table& t, TomlPlace at,
                        std::initializer_list<std::string_view> allowed) {
  for (auto&& [key, node] : t) {
    if (std::ranges::find(allowed, key.str()) == allowed.end()) {
      return at.error(fmt::format("unknown key '{}'", key.str()));
    }
  }
  return {};
}

// A float is refused, not converted: toml++ would convert it, and one out of range is undefined
// behaviour (found by fuzzing the catalog).
Result<std::int64_t> integer_key(const toml::table& t, std::string_view key, TomlPlace at,
                                 std::int64_t fallback, std::int64_t lo, std::int64_t hi) {
  const toml::node* node = t.get(key);
  if (node == nullptr) return fallback;
  std::string name = fmt::format("{}.{}", at.where, key);
  TomlPlace field{.file = at.file, .where = name};
  auto v = node->value_exact<std::int64_t>();
  if (!v) return field.error("must be an integer");
  if (*v < lo || *v > hi) return field.error(fmt::format("must be from {} to {}", lo, hi));
  return *v;
}

Result<std::vector<std::string>> string_array(const toml::node* node, TomlPlace at) {
  std::vector<std::string> out;
  if (node == nullptr) return out;
  const toml::array* arr = node->as_array();
  if (arr == nullptr) return at.error("must be an array of strings");
  for (const toml::node& el : *arr) {
    auto s = el.value_exact<std::string>();
    if (!s) return at.error("must be an array of strings");
    out.push_back(*s);
  }
  return out;
}

}  // namespace vramq::core
