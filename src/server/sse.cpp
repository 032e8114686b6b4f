#include "server/sse.hpp"

#include <fmt/format.h>

#include <charconv>

namespace vramq::server {

std::string sse_event(std::uint64_t id, std::string_view type, std::string_view data) {
  std::string out = fmt::format("id: {}\nevent: {}\n", id, type);
  std::size_t start = 0;
  for (;;) {
    std::size_t end = data.find_first_of("\r\n", start);
    out.append("data: ").append(data.substr(start, end - start)).append("\n");
    if (end == std::string_view::npos) break;
    start = end + (data.compare(end, 2, "\r\n") == 0 ? 2 : 1);
  }
  out.append("\n");
  return out;
}

std::string sse_heartbeat() {
  return ": keep-alive\n\n";
}

ResumeId parse_resume_id(std::optional<std::string_view> last_event_id,
                         std::optional<std::string_view> after_param) {
  std::optional<std::string_view> text = last_event_id ? last_event_id : after_param;
  if (!text) return {};
  std::string_view name = last_event_id ? "Last-Event-ID" : "after";
  std::uint64_t id = 0;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), id);
  if (text->empty() || ec != std::errc{} || end != text->data() + text->size()) {
    return {.after = std::nullopt,
            .error = fmt::format("{} must be an event id (a non-negative integer), got '{:.40}'",
                                 name, *text)};
  }
  return {.after = id, .error = {}};
}

}  // namespace vramq::server
