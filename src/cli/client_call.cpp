#include "cli/client_call.hpp"

#include <fmt/format.h>
#include <algorithm>
#include <boost/json.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <cctype>
#include <iostream>

#include "util/json_text.hpp"

namespace vramq::cli {
namespace json = boost::json;

std::optional<Reply> call(const ClientOptions& c, std::string_view method, std::string_view target,
                          std::string_view body, std::chrono::seconds timeout, const BodySink& sink,
                          const Headers& headers) {
  auto url = parse_server_url(c.server);
  if (!url) {
    std::cerr << "vramq: " << url.error().message << "\n";
    return std::nullopt;
  }
  auto r = http_request(*url, method, target, body, c.token, timeout, sink, headers);
  if (!r) {
    std::cerr << "vramq: " << r.error().message << "\n";
    return std::nullopt;
  }
  Reply reply{.status = r->status, .body = {}, .raw = r->body, .headers = std::move(r->headers)};
  boost::system::error_code ec;
  reply.body = json::parse(r->body, ec);
  return reply;
}

std::optional<std::string_view> Reply::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k.size() == name.size() && std::equal(k.begin(), k.end(), name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) ==
                 std::tolower(static_cast<unsigned char>(b));
        })) {
      return std::string_view(v);
    }
  }
  return std::nullopt;
}

std::string str(const json::value& v) {
  if (v.is_string()) return std::string(v.get_string());
  if (v.is_null()) return "-";
  if (v.is_double()) return fmt::format("{}", v.get_double());  // 1 rather than JSON's 1E0
  return util::to_json_text(v);
}

int report_error(const Reply& r) {
  std::string detail = r.raw;
  if (r.body.is_object()) {
    const json::object& o = r.body.get_object();
    if (auto* d = o.if_contains("detail")) detail = str(*d);
  }
  std::cerr << fmt::format("vramq: server answered {}: {}\n", r.status, detail);
  if (r.status == 429 || r.status == 503 || r.status == 401 || r.status >= 500) {
    return kExitUnreachable;
  }
  return kExitUsage;
}

// A query parameter value, percent-encoded (Boost.URL, as the client parses URLs).
std::string query_value(std::string_view v) {
  return boost::urls::encode(v, boost::urls::unreserved_chars);
}

// A path for a URL: each part percent-encoded, the slashes kept.
std::string query_value_path(std::string_view p) {
  std::string out;
  while (true) {
    std::size_t slash = p.find('/');
    out += query_value(p.substr(0, slash));
    if (slash == std::string_view::npos) return out;
    out += '/';
    p.remove_prefix(slash + 1);
  }
}

}  // namespace vramq::cli
