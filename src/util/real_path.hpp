#pragma once
// The filesystem side of path confinement (core::PathResolver): a path with every symlink in
// its existing part followed and `.`/`..` removed; the part that does not exist yet is appended
// as it is. Blocking (a stat per component): fine for a request's few paths.

#include <string>

#include "util/error.hpp"

namespace vramq::util {

Result<std::string> real_path(const std::string& path);

}  // namespace vramq::util
