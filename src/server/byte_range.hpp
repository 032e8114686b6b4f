#pragma once
// The Range header of a download (RFC 9110 §14): one range of bytes, as `bytes=FIRST-LAST`,
// `bytes=FIRST-` or `bytes=-SUFFIX`. Several ranges, other units or a malformed header mean the
// whole file (a server may ignore Range); a range past the end is unsatisfiable (416). Pure.

#include <cstdint>
#include <optional>
#include <string_view>

namespace vramq::server {

struct ByteRange {
  enum Kind { whole, partial, unsatisfiable };
  Kind kind = whole;
  std::int64_t first = 0;  // partial: inclusive bounds within [0, size)
  std::int64_t last = 0;
};

ByteRange parse_byte_range(std::optional<std::string_view> header, std::int64_t size);

}  // namespace vramq::server
