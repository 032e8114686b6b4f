#include "util/data_url.hpp"

#include <array>
#include <cstdint>

namespace vramq::util {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i] >= 'A' && a[i] <= 'Z' ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
    if (x != b[i]) return false;
  }
  return true;
}

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    int hi = hex(s[i + 1]);
    int lo = hex(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

int sextet(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

std::optional<std::string> base64_decode(std::string_view s) {
  std::size_t pad = 0;
  while (pad < 2 && !s.empty() && s.back() == '=') {
    s.remove_suffix(1);
    ++pad;
  }
  if (s.size() % 4 == 1 || (pad > 0 && (s.size() + pad) % 4 != 0)) return std::nullopt;
  std::string out;
  out.reserve(s.size() / 4 * 3 + 2);
  std::uint32_t bits = 0;
  int have = 0;
  for (char c : s) {
    int v = sextet(c);
    if (v < 0) return std::nullopt;  // outside the alphabet ("=" inside, spaces, ...)
    bits = (bits << 6) | static_cast<std::uint32_t>(v);
    have += 6;
    if (have >= 8) {
      have -= 8;
      out.push_back(static_cast<char>((bits >> have) & 0xff));
    }
  }
  if ((bits & ((1U << have) - 1)) != 0) return std::nullopt;  // not canonical (RFC 4648, 3.5)
  return out;
}

}  // namespace

std::optional<std::string> decode_data_url(std::string_view url) {
  if (url.size() < 5 || !iequals(url.substr(0, 5), "data:")) return std::nullopt;
  std::size_t comma = url.find(',');
  if (comma == std::string_view::npos) return std::nullopt;
  std::string_view meta = url.substr(5, comma - 5);
  auto data = percent_decode(url.substr(comma + 1));
  if (!data) return std::nullopt;
  constexpr std::string_view kBase64 = ";base64";
  bool base64 =
      meta.size() >= kBase64.size() && iequals(meta.substr(meta.size() - kBase64.size()), kBase64);
  return base64 ? base64_decode(*data) : data;
}

}  // namespace vramq::util
