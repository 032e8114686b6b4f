#pragma once
// Server-Sent Events framing (text/event-stream, WHATWG HTML "Server-sent events") for
// GET /v1/events (issue 13): one event as `id:`, `event:` and `data:` lines and a blank line, a
// comment line as the heartbeat, and the id a reconnecting client resumes from. Pure text.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vramq::server {

// One event. A payload with line breaks becomes several `data:` lines (a client joins them with
// "\n"); CR and CRLF count as breaks, as the standard says, so nothing in `data` can end the
// event early or forge another field.
std::string sse_event(std::uint64_t id, std::string_view type, std::string_view data);

// A comment line (ignored by clients) that keeps proxies and the client's timeout from closing
// an idle stream.
std::string sse_heartbeat();

// The id to resume after: `Last-Event-ID` (what browsers send on reconnecting) or `?after=`.
// nullopt when absent; an error text when it is not a non-negative integer.
struct ResumeId {
  std::optional<std::uint64_t> after;
  std::string error;
};
ResumeId parse_resume_id(std::optional<std::string_view> last_event_id,
                         std::optional<std::string_view> after_param);

}  // namespace vramq::server
