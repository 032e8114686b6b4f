#pragma once
// RFC 9457 problem details: every error the API returns is built here, so the mapping from an
// error to its status, type and title lives in one place.

#include <cstdint>
#include <string>
#include <string_view>

#include "server/http_types.hpp"

namespace vramq::server {

enum class Problem {
  bad_request,             // 400
  unauthorized,            // 401
  forbidden,               // 403
  not_found,               // 404
  method_not_allowed,      // 405
  request_timeout,         // 408
  conflict,                // 409
  payload_too_large,       // 413
  unsupported_media_type,  // 415
  range_not_satisfiable,   // 416
  unprocessable,           // 422
  too_many_requests,       // 429
  headers_too_large,       // 431
  internal,                // 500
  unavailable,             // 503
  insufficient_storage,    // 507
};

int status_of(Problem p);

// `detail` names the field or value at fault. `field` (optional) is added as an extension member
// so that scripts need not parse the detail.
Response problem(Problem p, std::string_view detail, std::string_view field = {});

}  // namespace vramq::server
