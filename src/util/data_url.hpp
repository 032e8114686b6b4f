#pragma once
// data: URLs (RFC 2397), the inline form of a small uploaded file: "data:[TYPE][;base64],DATA".
// The data is percent-decoded, then, with ";base64", decoded as strict base64 (RFC 4648: its
// alphabet only, "=" padding only at the end; unpadded input is accepted). Pure.

#include <optional>
#include <string>
#include <string_view>

namespace vramq::util {

// The bytes a data: URL carries; nullopt when it is none or malformed.
std::optional<std::string> decode_data_url(std::string_view url);

}  // namespace vramq::util
