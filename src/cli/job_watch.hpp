#pragma once
// `vramq submit --wait` and `vramq wait`: waits until a job has ended and says where it stands
// meanwhile, on stderr: on a terminal one line redrawn in place (cli/live_line), elsewhere a line
// each time its state, place or reason changes. It reads the job, then follows its events
// (GET /v1/events?job=ID&after=the id the read answered with): nothing is missed between the two.
// Where the server keeps no events, or the stream breaks, it long-polls GET /v1/jobs/{id}?wait=.

#include <cstdint>
#include <optional>

#include "cli/client_call.hpp"

namespace vramq::cli {

// The job once it has ended (the whole object, its output included), or the failed request.
std::optional<Reply> watch_job(const ClientOptions& c, std::int64_t id);

}  // namespace vramq::cli
