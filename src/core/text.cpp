#include "core/text.hpp"

#include <algorithm>
#include <cctype>

namespace vramq::core {

std::string_view trim(std::string_view s) {
  auto space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  while (!s.empty() && space(s.front()))
    s.remove_prefix(1);
  while (!s.empty() && space(s.back()))
    s.remove_suffix(1);
  return s;
}

std::string to_lower(std::string_view s) {
  std::string out(s);
  std::ranges::transform(out, out.begin(),
                         [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string printable_prefix(std::string_view s, std::size_t max_bytes) {
  std::string out = utf8_prefix(s, max_bytes);
  for (std::size_t i = 0; i < out.size(); ++i) {
    auto c = static_cast<unsigned char>(out[i]);
    if (c < 0x20 || c == 0x7f) {
      out[i] = '?';
    } else if (c == 0xc2 && i + 1 < out.size() && static_cast<unsigned char>(out[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(out[i + 1]) <= 0x9f) {
      out.replace(i, 2, "?");  // U+0080..U+009F, the C1 controls
    }
  }
  return out;
}

std::string utf8_prefix(std::string_view s, std::size_t max_bytes) {
  std::string out;
  for (std::size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    std::size_t len = c < 0x80           ? 1
                      : (c >> 5) == 0x6  ? 2
                      : (c >> 4) == 0xE  ? 3
                      : (c >> 3) == 0x1E ? 4
                                         : 0;
    bool ok = len != 0 && i + len <= s.size();
    for (std::size_t k = 1; ok && k < len; ++k)
      ok = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
    if (ok && len > 1) {
      // Overlong forms, surrogates and code points above U+10FFFF are not characters.
      auto c1 = static_cast<unsigned char>(s[i + 1]);
      ok = !(len == 2 && c < 0xC2) && !(len == 3 && c == 0xE0 && c1 < 0xA0) &&
           !(len == 3 && c == 0xED && c1 >= 0xA0) && !(len == 4 && c == 0xF0 && c1 < 0x90) &&
           !(len == 4 && (c > 0xF4 || (c == 0xF4 && c1 >= 0x90)));
    }
    std::string_view piece = ok ? s.substr(i, len) : std::string_view("?");
    if (out.size() + piece.size() > max_bytes) break;
    out.append(piece);
    i += ok ? len : 1;
  }
  return out;
}

}  // namespace vramq::core
