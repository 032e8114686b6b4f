#pragma once
// The Prometheus text exposition format, version 0.0.4 (prometheus.io/docs/instrumenting/
// exposition_formats): a `# HELP` and a `# TYPE` line once per metric family, then its samples,
// `name{label="value",...} number`. Label values escape `\`, `"` and newlines; HELP text escapes
// `\` and newlines; numbers print as integers when integral, else in the shortest form that reads
// back the same, with `+Inf`, `-Inf` and `NaN` spelled as the format wants. Pure text.

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

#include "core/histogram.hpp"

namespace vramq::server {

using Labels = std::initializer_list<std::pair<std::string_view, std::string_view>>;

class MetricsText {
 public:
  // Starts a family. `type`: counter, gauge or histogram. A family's samples follow it at once.
  void family(std::string_view name, std::string_view type, std::string_view help);
  void sample(std::string_view name, Labels labels, double value);
  // A histogram's `_bucket` (cumulative, with `le`), `_sum` and `_count` samples.
  void histogram(std::string_view name, Labels labels, const core::Histogram& h);
  const std::string& text() const { return out_; }

 private:
  void labels(Labels labels, std::string_view le = {});
  std::string out_;
};

std::string escape_label_value(std::string_view v);
std::string metric_number(double v);

}  // namespace vramq::server
