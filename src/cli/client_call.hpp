#pragma once
// What every client subcommand does to talk to the server: one request, its JSON answer, and a
// problem+json answer turned into one line on stderr and the exit code of DESIGN.

#include <boost/json/value.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "cli/client_commands.hpp"
#include "cli/http_client.hpp"

namespace vramq::cli {

struct Reply {
  int status = 0;
  boost::json::value body;  // null when the answer is not JSON
  std::string raw;
  std::vector<std::pair<std::string, std::string>> headers;

  std::optional<std::string_view> header(std::string_view name) const;  // any case
};

// Sends a request; on transport failure prints one line and returns nullopt (exit 3).
// With `sink`, a streamed (chunked) body goes there piece by piece instead of into the Reply.
std::optional<Reply> call(const ClientOptions& c, std::string_view method, std::string_view target,
                          std::string_view body = {},
                          std::chrono::seconds timeout = std::chrono::seconds(30),
                          const BodySink& sink = {}, const Headers& headers = {});

// A JSON value as a table cell: strings bare, null as "-".
std::string str(const boost::json::value& v);

// A problem+json answer as one line; the exit code depends on who is at fault.
int report_error(const Reply& r);

// A query parameter's value, percent-encoded (Boost.URL, as the client parses URLs).
std::string query_value(std::string_view v);
// A path for a URL: each part percent-encoded, the slashes kept.
std::string query_value_path(std::string_view p);

}  // namespace vramq::cli
