#include "server/byte_range.hpp"

#include <algorithm>
#include <charconv>

namespace vramq::server {
namespace {

std::optional<std::int64_t> number(std::string_view s) {
  std::int64_t v = 0;
  if (s.empty()) return std::nullopt;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size() || v < 0) return std::nullopt;
  return v;
}

}  // namespace

ByteRange parse_byte_range(std::optional<std::string_view> header, std::int64_t size) {
  constexpr std::string_view kUnit = "bytes=";
  if (!header || !header->starts_with(kUnit)) return {};
  std::string_view spec = header->substr(kUnit.size());
  if (spec.find(',') != std::string_view::npos) return {};  // several ranges: the whole file
  std::size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return {};
  std::string_view a = spec.substr(0, dash);
  std::string_view b = spec.substr(dash + 1);
  if (a.empty()) {  // the last N bytes
    auto suffix = number(b);
    if (!suffix) return {};
    if (*suffix == 0 || size == 0) return {.kind = ByteRange::unsatisfiable};
    return {.kind = ByteRange::partial, .first = size - std::min(*suffix, size), .last = size - 1};
  }
  auto first = number(a);
  std::optional<std::int64_t> last = b.empty() ? std::optional(first.value_or(0)) : number(b);
  if (!first || !last || *last < *first) return {};  // malformed: the whole file
  if (*first >= size) return {.kind = ByteRange::unsatisfiable};
  if (b.empty()) last = size - 1;
  return {.kind = ByteRange::partial, .first = *first, .last = std::min(*last, size - 1)};
}

}  // namespace vramq::server
