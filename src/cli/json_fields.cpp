#include "cli/json_fields.hpp"

#include <algorithm>
#include <cmath>

namespace vramq::cli {
namespace json = boost::json;

std::optional<double> number_field(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_number()) return std::nullopt;
  return v->to_number<double>();
}

std::int64_t integer_field(const json::object& o, std::string_view key, std::int64_t fallback) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) return fallback;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) {
    return static_cast<std::int64_t>(std::min<std::uint64_t>(v->get_uint64(), INT64_MAX));
  }
  if (v->is_double() && std::isfinite(v->get_double()) && std::fabs(v->get_double()) < 9e18) {
    return static_cast<std::int64_t>(v->get_double());
  }
  return fallback;
}

std::string text_field(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

}  // namespace vramq::cli
