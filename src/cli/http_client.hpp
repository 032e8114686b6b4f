#pragma once
// A small blocking HTTP/1.1 client for the CLI (one request per connection, with a deadline).

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace vramq::cli {

struct HttpResult {
  int status = 0;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

struct ServerUrl {
  std::string host;
  std::string port;
  std::string base_path;  // without trailing slash
};

core::Result<ServerUrl> parse_server_url(std::string_view url);

// Receives the pieces of a chunked (streamed) body as they arrive instead of HttpResult::body.
// False: it has what it wanted; the request ends there (a success) and the connection closes.
using BodySink = std::function<bool(std::string_view)>;

// Errors are transport failures only (cannot connect, timeout); any HTTP status is a result.
// With `sink`, a chunked body goes to it piece by piece and only connecting has a deadline,
// unless `idle` is given: then each piece must come within it (a stream with heartbeats, whose
// silence means the connection is dead). `headers`: extra request headers (e.g. Idempotency-Key).
using Headers = std::vector<std::pair<std::string, std::string>>;
core::Result<HttpResult> http_request(const ServerUrl& server, std::string_view method,
                                      std::string_view target, std::string_view body,
                                      std::string_view token, std::chrono::seconds timeout,
                                      const BodySink& sink = {}, const Headers& headers = {},
                                      std::optional<std::chrono::seconds> idle = std::nullopt);

}  // namespace vramq::cli
