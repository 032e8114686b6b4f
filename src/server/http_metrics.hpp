#pragma once
// HTTP requests for GET /metrics: how many were answered, by method, route and status, and how
// long each took to answer (to its response's head: a streamed body's time is the client's, not
// the server's). Routes are the API's templates ("/v1/jobs/{id}"), never raw paths, and methods
// outside HTTP's own are "other", so that no client can grow the label sets. Loop only.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <tuple>

#include "core/histogram.hpp"
#include "server/metrics_text.hpp"

namespace vramq::server {

// The route template a path belongs to ("other" for unknown paths).
std::string_view route_template(std::string_view path);
std::string_view method_label(std::string_view method);

class HttpMetrics {
 public:
  void observe(std::string_view method, std::string_view path, int status, double seconds);
  void write(MetricsText& out) const;

 private:
  std::map<std::tuple<std::string_view, std::string_view, int>, std::uint64_t> requests_;
  std::map<std::string_view, core::Histogram> durations_;  // by route
};

}  // namespace vramq::server
