#pragma once
// The core's expected failures: util::Error and util::Result under the core's names.

#include "util/error.hpp"

namespace vramq::core {

using util::Error;
template <class T>
using Result = util::Result<T>;

}  // namespace vramq::core
