#include "exec/progress_report.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>

#include "core/text.hpp"

namespace vramq::exec {
namespace json = boost::json;
namespace {

// Reports looked at from the end: a partial last line (being written) is skipped for the one
// before it.
constexpr int kLinesLooked = 8;

// A finite number >= 0 (absent: nullopt; present and wrong: the line is no report).
bool number_field(const json::object& o, std::string_view key, std::optional<double>& out) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) return true;
  if (!v->is_number()) return false;
  double d = v->to_number<double>();
  if (!std::isfinite(d) || d < 0) return false;
  out = d;
  return true;
}

std::optional<core::Progress> parse_line(std::string_view line) {
  boost::system::error_code ec;
  json::value v = json::parse(line, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const json::object& o = v.as_object();
  core::Progress p;
  if (!number_field(o, "fraction", p.fraction) || !number_field(o, "current", p.current) ||
      !number_field(o, "total", p.total) || !number_field(o, "eta_s", p.eta_s)) {
    return std::nullopt;
  }
  if (p.fraction && *p.fraction > 1) return std::nullopt;
  if (!p.fraction && p.current && p.total && *p.total > 0) {
    p.fraction = std::min(1.0, *p.current / *p.total);
  }
  if (const json::value* m = o.if_contains("message"); m != nullptr && m->is_string()) {
    p.message = core::printable_prefix(m->as_string(), core::kProgressMessageBytes);
  }
  if (const json::value* u = o.if_contains("unit"); u != nullptr && u->is_string()) {
    p.unit = core::printable_prefix(u->as_string(), core::kProgressUnitBytes);
  }
  if (!p.fraction && !p.current && p.message.empty()) return std::nullopt;  // says nothing
  return p;
}

}  // namespace

std::optional<core::Progress> parse_progress_report(std::string_view tail) {
  std::size_t end = tail.size();
  for (int looked = 0; looked < kLinesLooked && end > 0; ++looked) {
    while (end > 0 && (tail[end - 1] == '\n' || tail[end - 1] == '\r'))
      --end;
    std::size_t nl = end == 0 ? std::string_view::npos : tail.find_last_of('\n', end - 1);
    std::size_t start = nl == std::string_view::npos ? 0 : nl + 1;
    if (start >= end) break;
    if (auto p = parse_line(tail.substr(start, end - start))) return p;
    if (nl == std::string_view::npos) break;
    end = start;
  }
  return std::nullopt;
}

}  // namespace vramq::exec
