#pragma once
// Expected failures are values: a Result carries either the value or an Error whose message names
// what was wrong (it reaches users verbatim in problem+json details). At the bottom of the
// layering: util/ and core/ alike use it (core::Error is this type).

#include <boost/system/result.hpp>
#include <string>
#include <system_error>

namespace vramq::util {

struct Error {
  std::string message;
};

template <class T>
using Result = boost::system::result<T, Error>;

// An errno value in words ("No space left on device"), for an Error's message.
inline std::string errno_text(int e) {
  return std::error_code(e, std::generic_category()).message();
}

}  // namespace vramq::util
