#include "cli/sse_reader.hpp"

namespace vramq::cli {

std::vector<SseEvent> SseReader::feed(std::string_view piece) {
  std::vector<SseEvent> out;
  for (char c : piece) {
    if (after_cr_) {
      after_cr_ = false;
      if (c == '\n') continue;  // CRLF: the CR ended the line already
    }
    if (c == '\r' || c == '\n') {
      after_cr_ = c == '\r';
      line(partial_, out);
      partial_.clear();
    } else {
      partial_ += c;
    }
  }
  return out;
}

void SseReader::line(std::string_view l, std::vector<SseEvent>& out) {
  if (l.empty()) {
    if (has_fields_) out.push_back(std::move(current_));
    current_ = SseEvent{};
    has_data_ = false;
    has_fields_ = false;
    return;
  }
  if (l.front() == ':') return;  // a comment: the heartbeat
  std::size_t colon = l.find(':');
  std::string_view name = l.substr(0, colon);
  std::string_view value =
      colon == std::string_view::npos ? std::string_view() : l.substr(colon + 1);
  if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  if (name == "data") {
    if (has_data_) current_.data += '\n';
    current_.data += value;
    has_data_ = true;
  } else if (name == "event") {
    current_.type = value;
  } else if (name == "id") {
    current_.id = value;
  } else {
    return;  // retry, or a field this client does not know
  }
  has_fields_ = true;
}

}  // namespace vramq::cli
