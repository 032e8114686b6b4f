#pragma once
// multipart/form-data (RFC 7578 over the multipart syntax of RFC 2046), read incrementally: a
// body arrives in pieces of any size, and a file part is handed on piece by piece, never held
// whole. Pure, no I/O.
//
// feed() turns a piece of the body into events: a part's head (its name, filename and content
// type), its data in pieces, its end, and the end of the body (the close delimiter; what follows
// it, the epilogue, is ignored). Data pieces are views into the reader's own buffer, valid until
// the next feed(). Limits bound what a hostile body can make it hold: one part's header block,
// and the number of parts. Malformed input is an error naming what was wrong; it is final.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.hpp"

namespace vramq::server {

// The boundary of a `multipart/form-data` Content-Type; an error when the type is another or its
// boundary is missing or one RFC 2046 forbids (empty, over 70 characters, ending in a space).
util::Result<std::string> form_data_boundary(std::string_view content_type);

struct PartHead {
  std::string name;                     // Content-Disposition's name
  std::optional<std::string> filename;  // its filename, when the part has one
  std::string content_type;             // lower-case, without parameters; "" when it has none
};

class MultipartReader {
 public:
  struct Limits {
    std::size_t head_bytes = std::size_t{16} << 10;  // one part's header block
    std::size_t parts = 256;
  };
  struct Event {
    enum class Kind { head, data, end_of_part, end_of_body };
    Kind kind = Kind::data;
    PartHead head;          // kind == head
    std::string_view data;  // kind == data: valid until the next feed()
  };

  MultipartReader(std::string_view boundary, Limits limits);

  // Reads the next piece of the body, appending what it completes to `out` (cleared first).
  util::Result<void> feed(std::string_view piece, std::vector<Event>& out);
  // Whether the close delimiter was read: a body that ends before it is truncated.
  bool done() const { return state_ == State::epilogue; }

 private:
  enum class State { preamble, after_delimiter, head, body, epilogue, failed };
  // What a state's step leaves: go on with the next state, or wait for more of the body.
  enum class Step { more, wait };
  util::Error fail(std::string message);
  util::Result<void> read_head(std::string_view block, std::vector<Event>& out);
  // One step in each state, reading `buf` from `p` (moved past what it consumed).
  util::Result<Step> preamble(std::string_view buf, std::size_t& p);
  util::Result<Step> after_delimiter(std::string_view buf, std::size_t& p, std::vector<Event>& out);
  util::Result<Step> head(std::string_view buf, std::size_t& p, std::vector<Event>& out);
  Step body(std::string_view buf, std::size_t& p, std::vector<Event>& out);
  std::size_t kept_back_from(std::string_view buf, std::size_t p) const;

  std::string delimiter_;  // "\r\n--" + boundary
  Limits limits_;
  State state_ = State::preamble;
  std::size_t parts_ = 0;
  // Bytes fed but not yet consumed: at most a partial delimiter or an unfinished header block
  // (bounded by the limits) once feed() returns.
  std::string buffer_;
  std::size_t consumed_ = 0;      // of buffer_, by the last feed()
  std::size_t head_scanned_ = 0;  // of the current part's head, searched for its end already
};

}  // namespace vramq::server
