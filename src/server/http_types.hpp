#pragma once
// Plain request and response values: handlers see these, never a socket or a Beast type, so
// that they stay small and testable in memory.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vramq::server {

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string path;    // percent-decoded path, without the query
  std::vector<std::pair<std::string, std::string>> query;    // decoded, in order
  std::vector<std::pair<std::string, std::string>> headers;  // lower-case names
  std::string body;

  std::optional<std::string_view> query_param(std::string_view name) const;
  std::optional<std::string_view> header(std::string_view lower_name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

}  // namespace vramq::server
