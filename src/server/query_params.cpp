#include "server/query_params.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <string>

#include "server/problem.hpp"

namespace vramq::server {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::ranges::equal(a, b, [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

boost::system::result<bool, Response> bool_param(const Request& req, std::string_view name,
                                                 bool fallback) {
  using R = boost::system::result<bool, Response>;
  auto text = req.query_param(name);
  if (!text) return R(boost::system::in_place_value, fallback);
  constexpr std::array<std::string_view, 5> kTrue = {"", "1", "true", "yes", "on"};
  constexpr std::array<std::string_view, 4> kFalse = {"0", "false", "no", "off"};
  auto is = [&](std::string_view v) { return iequals(*text, v); };
  if (std::ranges::any_of(kTrue, is)) return R(boost::system::in_place_value, true);
  if (std::ranges::any_of(kFalse, is)) return R(boost::system::in_place_value, false);
  return problem(
      Problem::bad_request,
      fmt::format("{} must be a boolean (1, true, yes, on or 0, false, no, off), got '{}'", name,
                  *text),
      name);
}

boost::system::result<std::int64_t, Response> int_param(const Request& req, std::string_view name,
                                                        std::int64_t lo, std::int64_t hi,
                                                        std::int64_t fallback) {
  auto text = req.query_param(name);
  using R = boost::system::result<std::int64_t, Response>;
  if (!text) return R(boost::system::in_place_value, fallback);
  std::int64_t v = 0;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), v);
  if (ec != std::errc{} || end != text->data() + text->size() || v < lo || v > hi) {
    return problem(
        Problem::bad_request,
        fmt::format("{} must be an integer from {} to {}, got '{}'", name, lo, hi, *text), name);
  }
  return R(boost::system::in_place_value, v);
}

}  // namespace vramq::server
