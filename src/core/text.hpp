#pragma once
// Small text helpers shared by the parsers (sizes, VRAM rules, tokens, headers).

#include <string>
#include <string_view>

namespace vramq::core {

// Without leading and trailing whitespace (space, tab, CR, LF, VT, FF).
std::string_view trim(std::string_view s);

// At most `max_bytes` of `s` as valid UTF-8: bytes that do not form a character become '?', and
// a character that would straddle the limit is left out. For text from jobs shown in JSON.
std::string utf8_prefix(std::string_view s, std::size_t max_bytes);

// Like utf8_prefix, and control characters (C0, DEL, C1) become '?' too: text from a job that a
// terminal will show (a progress message) must not move its cursor or set its title.
std::string printable_prefix(std::string_view s, std::size_t max_bytes);

// ASCII lower case.
std::string to_lower(std::string_view s);

}  // namespace vramq::core
