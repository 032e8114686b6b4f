#pragma once
// SHA-256 (OpenSSL's libcrypto): the form bearer tokens are kept and compared in.

#include <string>
#include <string_view>

namespace vramq::util {

// The digest of `data` as 64 lower-case hex digits.
std::string sha256_hex(std::string_view data);

}  // namespace vramq::util
