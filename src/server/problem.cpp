#include "server/problem.hpp"
#include "util/json_text.hpp"

#include <boost/json.hpp>

namespace vramq::server {
namespace {

struct Entry {
  int status;
  std::string_view slug;
  std::string_view title;
};

constexpr Entry kTable[] = {
    {400, "bad-request", "Bad request"},
    {401, "unauthorized", "Unauthorized"},
    {403, "forbidden", "Forbidden"},
    {404, "not-found", "Not found"},
    {405, "method-not-allowed", "Method not allowed"},
    {408, "request-timeout", "Request timeout"},
    {409, "conflict", "Conflict"},
    {413, "payload-too-large", "Payload too large"},
    {415, "unsupported-media-type", "Unsupported media type"},
    {416, "range-not-satisfiable", "Range not satisfiable"},
    {422, "unprocessable", "Unprocessable submission"},
    {429, "queue-full", "Too many requests"},
    {431, "headers-too-large", "Request header fields too large"},
    {500, "internal", "Internal server error"},
    {503, "unavailable", "Service unavailable"},
    {507, "insufficient-storage", "Insufficient storage"},
};

}  // namespace

int status_of(Problem p) {
  return kTable[static_cast<int>(p)].status;
}

Response problem(Problem p, std::string_view detail, std::string_view field) {
  const Entry& e = kTable[static_cast<int>(p)];
  boost::json::object o;
  o["type"] = "https://vramq.dev/problems/" + std::string(e.slug);
  o["title"] = e.title;
  o["status"] = e.status;
  o["detail"] = detail;
  if (!field.empty()) o["field"] = field;
  return Response{.status = e.status,
                  .content_type = "application/problem+json",
                  .body = util::to_json_text(o),
                  .headers = {}};
}

}  // namespace vramq::server
