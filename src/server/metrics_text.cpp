#include "server/metrics_text.hpp"

#include <fmt/format.h>

#include <cmath>

namespace vramq::server {

std::string escape_label_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string metric_number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::trunc(v) && std::fabs(v) < 1e15)
    return fmt::format("{}", static_cast<long long>(v));
  return fmt::format("{}", v);
}

void MetricsText::family(std::string_view name, std::string_view type, std::string_view help) {
  std::string h;
  for (char c : help) {
    if (c == '\\') {
      h += "\\\\";
    } else if (c == '\n') {
      h += "\\n";
    } else {
      h += c;
    }
  }
  out_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, h, name, type);
}

void MetricsText::labels(Labels labels, std::string_view le) {
  if (labels.size() == 0 && le.empty()) return;
  out_ += '{';
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out_ += ',';
    first = false;
    out_ += fmt::format("{}=\"{}\"", k, escape_label_value(v));
  }
  if (!le.empty()) out_ += fmt::format("{}le=\"{}\"", first ? "" : ",", le);
  out_ += '}';
}

void MetricsText::sample(std::string_view name, Labels l, double value) {
  out_ += name;
  labels(l);
  out_ += ' ';
  out_ += metric_number(value);
  out_ += '\n';
}

void MetricsText::histogram(std::string_view name, Labels l, const core::Histogram& h) {
  std::vector<std::uint64_t> cumulative = h.cumulative();
  for (std::size_t i = 0; i < cumulative.size(); ++i) {
    std::string le = i < h.bounds().size() ? metric_number(h.bounds()[i]) : "+Inf";
    out_ += fmt::format("{}_bucket", name);
    labels(l, le);
    out_ += fmt::format(" {}\n", cumulative[i]);
  }
  out_ += fmt::format("{}_sum", name);
  labels(l);
  out_ += fmt::format(" {}\n", metric_number(h.sum()));
  out_ += fmt::format("{}_count", name);
  labels(l);
  out_ += fmt::format(" {}\n", h.count());
}

}  // namespace vramq::server
