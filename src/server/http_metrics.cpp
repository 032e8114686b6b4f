#include "server/http_metrics.hpp"

#include <array>

namespace vramq::server {

std::string_view route_template(std::string_view p) {
  static constexpr std::array<std::string_view, 12> kExact = {
      "/",          "/healthz", "/readyz",   "/metrics",    "/run-script",  "/v1/jobs",
      "/v1/events", "/v1/gpus", "/v1/tasks", "/v1/workers", "/favicon.ico", "/v1/queue"};
  for (std::string_view e : kExact) {
    if (p == e) return e;
  }
  if (p.starts_with("/assets/")) return "/assets/{file}";
  if (p.starts_with("/v1/workers/") && p.find('/', 12) == std::string_view::npos) {
    return "/v1/workers/{id}";
  }
  if (p.starts_with("/v1/jobs/")) {
    std::string_view rest = p.substr(9);
    std::size_t slash = rest.find('/');
    if (slash == std::string_view::npos) return "/v1/jobs/{id}";
    std::string_view tail = rest.substr(slash);
    if (tail == "/log") return "/v1/jobs/{id}/log";
    if (tail == "/files") return "/v1/jobs/{id}/files";
    if (tail.starts_with("/files/")) return "/v1/jobs/{id}/files/{path}";
  }
  return "other";
}

std::string_view method_label(std::string_view m) {
  static constexpr std::array<std::string_view, 7> kMethods = {"GET", "POST",  "DELETE", "HEAD",
                                                               "PUT", "PATCH", "OPTIONS"};
  for (std::string_view k : kMethods) {
    if (m == k) return k;
  }
  return "other";
}

void HttpMetrics::observe(std::string_view method, std::string_view path, int status,
                          double seconds) {
  std::string_view route = route_template(path);
  ++requests_[{method_label(method), route, status}];
  durations_
      .try_emplace(route, core::Histogram({0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                           0.25, 0.5, 1, 2.5, 5, 10, 30}))
      .first->second.observe(seconds);
}

void HttpMetrics::write(MetricsText& out) const {
  out.family("vramq_http_requests_total", "counter",
             "HTTP requests answered, by method, route template and status code");
  for (const auto& [key, n] : requests_) {
    const auto& [method, route, code] = key;
    std::string code_text = std::to_string(code);
    out.sample("vramq_http_requests_total",
               {{"method", method}, {"route", route}, {"code", code_text}}, static_cast<double>(n));
  }
  out.family("vramq_http_request_duration_seconds", "histogram",
             "Time to answer a request (to its response head), by route template");
  for (const auto& [route, h] : durations_)
    out.histogram("vramq_http_request_duration_seconds", {{"route", route}}, h);
}

}  // namespace vramq::server
