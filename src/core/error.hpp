#pragma once
// Expected failures in the pure core are values: a Result carries either the value or an Error
// whose message names what was wrong (it reaches users verbatim in problem+json details).

#include <boost/system/result.hpp>
#include <string>

namespace vramq::core {

struct Error {
  std::string message;
};

template <class T>
using Result = boost::system::result<T, Error>;

}  // namespace vramq::core
