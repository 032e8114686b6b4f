#pragma once
// Expected failures are values: a Result carries either the value or an Error whose message names
// what was wrong (it reaches users verbatim in problem+json details). At the bottom of the
// layering: util/ and core/ alike use it (core::Error is this type).

#include <boost/system/result.hpp>
#include <string>

namespace vramq::util {

struct Error {
  std::string message;
};

template <class T>
using Result = boost::system::result<T, Error>;

}  // namespace vramq::util
