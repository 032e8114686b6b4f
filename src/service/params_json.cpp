#include "service/params_json.hpp"

#include <boost/json.hpp>

#include "util/json_text.hpp"

namespace vramq::service {

std::string params_to_json(const std::map<std::string, core::ParamValue, std::less<>>& params) {
  boost::json::object o;
  for (const auto& entry : params) {
    std::visit([&](const auto& v) { o[entry.first] = v; }, entry.second);
  }
  return util::to_json_text(o);
}

std::map<std::string, core::ParamValue, std::less<>> params_from_json(std::string_view text) {
  std::map<std::string, core::ParamValue, std::less<>> out;
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  if (ec || !v.is_object()) return out;
  for (const auto& [k, value] : v.get_object()) {
    if (value.is_int64()) out.emplace(k, value.get_int64());
    if (value.is_double()) out.emplace(k, value.get_double());
    if (value.is_string()) out.emplace(k, std::string(value.get_string()));
  }
  return out;
}

}  // namespace vramq::service
