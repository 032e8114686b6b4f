#pragma once
// Reading a field of an answer from the server without trusting its shape: a missing field or
// one of another type reads as "none", never as an exception (the live views must survive a
// proxy's page or a newer server's fields).

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vramq::cli {

std::optional<double> number_field(const boost::json::object& o, std::string_view key);
// Whole numbers (and doubles within int64's range, cut); `fallback` for anything else.
std::int64_t integer_field(const boost::json::object& o, std::string_view key,
                           std::int64_t fallback = 0);
std::string text_field(const boost::json::object& o, std::string_view key);  // "" unless a string

}  // namespace vramq::cli
