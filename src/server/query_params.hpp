#pragma once
// Query-string parameters, parsed one way for every route: a bad value is a 400 that names the
// parameter and what it accepts. Booleans have one syntax everywhere (dry_run, follow, purge):
// 1/true/yes/on and 0/false/no/off, any case; a bare `?flag` is true.

#include <boost/system/result.hpp>
#include <cstdint>
#include <string_view>

#include "server/http_types.hpp"

namespace vramq::server {

boost::system::result<bool, Response> bool_param(const Request& req, std::string_view name,
                                                 bool fallback);

// An integer in [lo, hi]; `fallback` when absent.
boost::system::result<std::int64_t, Response> int_param(const Request& req, std::string_view name,
                                                        std::int64_t lo, std::int64_t hi,
                                                        std::int64_t fallback);

}  // namespace vramq::server
