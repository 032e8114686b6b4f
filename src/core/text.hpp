#pragma once
// Small text helpers shared by the parsers (sizes, VRAM rules, tokens, headers).

#include <string>
#include <string_view>

namespace vramq::core {

// Without leading and trailing whitespace (space, tab, CR, LF, VT, FF).
std::string_view trim(std::string_view s);

// ASCII lower case.
std::string to_lower(std::string_view s);

}  // namespace vramq::core
