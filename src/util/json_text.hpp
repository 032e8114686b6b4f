#pragma once
// JSON text as a person writes it. Boost.JSON prints every double in exponent form (2 -> "2E0",
// 255 -> "2.55E2", 0.000061 -> "6.1E-5"); every JSON vramq writes (API bodies, the CLI's --json,
// stored params) goes through here instead: integral numbers print as integers and other numbers
// in the shortest form that reads back to the same double, without an exponent unless the
// number is extreme.

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <string>

namespace vramq::util {

std::string to_json_text(const boost::json::value& v);
std::string to_json_text(const boost::json::object& o);
std::string to_json_text(const boost::json::array& a);

// One number as to_json_text prints it.
std::string number_text(double d);

}  // namespace vramq::util
