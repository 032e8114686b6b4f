#include "core/file_param.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "core/media_type.hpp"

namespace vramq::core {

Result<void> check_upload_size(const ParamDef& p, std::int64_t bytes) {
  if (p.max_bytes > 0 && bytes > p.max_bytes) {
    return Error{
        fmt::format("params.{}: the file is over its limit of {} bytes", p.name, p.max_bytes)};
  }
  return {};
}

Result<void> check_upload_type(const ParamDef& p, std::string_view media_type) {
  if (media_type_allowed(media_type, p.media_types)) return {};
  return Error{fmt::format("params.{}: the file is {} by its content; this parameter takes {}",
                           p.name, media_type, fmt::join(p.media_types, ", "))};
}

bool plain_file_name(std::string_view name) {
  return !name.empty() && name != "." && name != ".." && std::ranges::all_of(name, [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-' || c == '.';
  });
}

}  // namespace vramq::core
