#include "util/real_path.hpp"

#include <filesystem>

namespace vramq::util {

Result<std::string> real_path(const std::string& path) {
  std::error_code ec;
  std::filesystem::path real = std::filesystem::weakly_canonical(path, ec);
  if (ec) return Error{ec.message()};
  return Result<std::string>(boost::system::in_place_value, real.string());
}

}  // namespace vramq::util
