#pragma once
// A job's validated parameters as the canonical JSON object text the store and the API keep
// (JobSpec::params_json), and back.

#include <map>
#include <string>
#include <string_view>

#include "core/task_catalog.hpp"

namespace vramq::service {

std::string params_to_json(const std::map<std::string, core::ParamValue, std::less<>>& params);
// The inverse, for jobs read back (params_json holds only ints, doubles and strings).
std::map<std::string, core::ParamValue, std::less<>> params_from_json(std::string_view text);

}  // namespace vramq::service
