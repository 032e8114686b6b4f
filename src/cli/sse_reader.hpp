#pragma once
// Reads a Server-Sent Events stream (GET /v1/events) as its pieces arrive, whatever their
// boundaries: lines end with LF, CRLF or CR; `data:` lines join with "\n"; comment lines (the
// heartbeat) and unknown fields are skipped; a blank line ends an event. Pure.

#include <string>
#include <string_view>
#include <vector>

namespace vramq::cli {

struct SseEvent {
  std::string id;
  std::string type = "message";  // `event:`
  std::string data;
};

class SseReader {
 public:
  // The events the piece completes, in order.
  std::vector<SseEvent> feed(std::string_view piece);

 private:
  void line(std::string_view l, std::vector<SseEvent>& out);
  std::string partial_;    // the start of a line not yet ended
  bool after_cr_ = false;  // the last piece ended with CR: a LF next is the same line end
  SseEvent current_;
  bool has_data_ = false;
  bool has_fields_ = false;
};

}  // namespace vramq::cli
