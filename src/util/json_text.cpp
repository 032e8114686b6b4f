#include "util/json_text.hpp"

#include <boost/json/serialize.hpp>
#include <charconv>
#include <cmath>

namespace vramq::util {
namespace json = boost::json;

namespace {

void append(std::string& out, const json::value& v);

void append(std::string& out, const json::array& a) {
  out += '[';
  bool first = true;
  for (const json::value& e : a) {
    if (!first) out += ',';
    first = false;
    append(out, e);
  }
  out += ']';
}

void append(std::string& out, const json::object& o) {
  out += '{';
  bool first = true;
  for (const json::key_value_pair& kv : o) {
    if (!first) out += ',';
    first = false;
    out += json::serialize(json::string_view(kv.key()));
    out += ':';
    append(out, kv.value());
  }
  out += '}';
}

void append(std::string& out, const json::value& v) {
  switch (v.kind()) {
    case json::kind::double_:
      out += number_text(v.get_double());
      return;
    case json::kind::array:
      append(out, v.get_array());
      return;
    case json::kind::object:
      append(out, v.get_object());
      return;
    default:  // null, bool, integers and strings print as Boost.JSON prints them
      out += json::serialize(v);
      return;
  }
}

}  // namespace

std::string number_text(double d) {
  if (!std::isfinite(d)) return "null";  // JSON has no NaN or infinity
  if (std::trunc(d) == d && std::abs(d) < 9.0e15) {
    return std::to_string(static_cast<long long>(d));
  }
  char buf[400];
  double a = std::abs(d);
  auto format = a >= 1e-6 && a < 1e15 ? std::chars_format::fixed : std::chars_format::general;
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d, format);
  if (ec != std::errc{}) return json::serialize(json::value(d));
  return std::string(buf, end);
}

std::string to_json_text(const json::value& v) {
  std::string out;
  append(out, v);
  return out;
}

std::string to_json_text(const json::object& o) {
  std::string out;
  append(out, o);
  return out;
}

std::string to_json_text(const json::array& a) {
  std::string out;
  append(out, a);
  return out;
}

}  // namespace vramq::util
