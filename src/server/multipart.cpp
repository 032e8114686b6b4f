#include "server/multipart.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

#include "core/text.hpp"

namespace vramq::server {
namespace {

constexpr std::string_view kCrlf = "\r\n";

// A header value's `type; name=value; name="quoted"` parameters (RFC 9110's syntax, as
// Content-Type and Content-Disposition share it): the part before the first ';', then each
// parameter with its name in lower case. Backslash escapes in quoted strings are honoured for
// '"' and '\' only: browsers send a Windows path's backslashes as they are.
struct HeaderValue {
  std::string first;
  std::vector<std::pair<std::string, std::string>> params;
  const std::string* param(std::string_view name) const {
    for (const auto& [k, v] : params) {
      if (k == name) return &v;
    }
    return nullptr;
  }
};

util::Result<HeaderValue> parse_header_value(std::string_view s) {
  HeaderValue out;
  std::size_t semi = s.find(';');
  out.first = core::to_lower(core::trim(s.substr(0, semi)));
  std::size_t i = semi == std::string_view::npos ? s.size() : semi + 1;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == ';'))
      ++i;
    if (i == s.size()) break;
    std::size_t eq = s.find('=', i);
    if (eq == std::string_view::npos) {
      return util::Error{fmt::format("a header parameter without a value: '{}'", s.substr(i))};
    }
    std::string name = core::to_lower(core::trim(s.substr(i, eq - i)));
    if (name.empty()) return util::Error{"a header parameter without a name"};
    i = eq + 1;
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t'))
      ++i;
    std::string value;
    if (i < s.size() && s[i] == '"') {
      bool closed = false;
      for (++i; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 1 < s.size() && (s[i + 1] == '"' || s[i + 1] == '\\')) {
          value += s[++i];
        } else if (s[i] == '"') {
          closed = true;
          ++i;
          break;
        } else {
          value += s[i];
        }
      }
      if (!closed) return util::Error{fmt::format("the quoted value of '{}' is not closed", name)};
    } else {
      std::size_t end = s.find(';', i);
      value = std::string(core::trim(s.substr(i, end == std::string_view::npos ? end : end - i)));
      i = end == std::string_view::npos ? s.size() : end;
    }
    out.params.emplace_back(std::move(name), std::move(value));
  }
  return out;
}

// RFC 2046's bchars: digits, letters, '()+_,-./:=? and space (not last).
bool boundary_char(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         std::string_view("'()+_,-./:=? ").find(c) != std::string_view::npos;
}

}  // namespace

util::Result<std::string> form_data_boundary(std::string_view content_type) {
  auto value = parse_header_value(content_type);
  if (!value) return value.error();
  if (value->first != "multipart/form-data") {
    return util::Error{
        fmt::format("the Content-Type is '{}', not multipart/form-data", value->first)};
  }
  const std::string* b = value->param("boundary");
  if (b == nullptr) return util::Error{"multipart/form-data without a boundary parameter"};
  if (b->empty() || b->size() > 70 || b->back() == ' ' || !std::ranges::all_of(*b, boundary_char)) {
    return util::Error{
        "the multipart boundary must be 1 to 70 of RFC 2046's characters, not ending in a space"};
  }
  return util::Result<std::string>(boost::system::in_place_value, *b);
}

MultipartReader::MultipartReader(std::string_view boundary, Limits limits)
    : delimiter_(fmt::format("\r\n--{}", boundary)), limits_(limits) {
  // The first delimiter may open the body without the CRLF before it: one is supplied.
  buffer_ = kCrlf;
}

util::Error MultipartReader::fail(std::string message) {
  state_ = State::failed;
  buffer_.clear();
  consumed_ = 0;
  return util::Error{std::move(message)};
}

util::Result<void> MultipartReader::read_head(std::string_view block, std::vector<Event>& out) {
  PartHead head;
  bool disposition = false;
  while (!block.empty()) {
    std::size_t eol = block.find(kCrlf);
    std::string_view line = block.substr(0, eol);
    block.remove_prefix(eol == std::string_view::npos ? block.size() : eol + 2);
    if (line.empty()) continue;
    if (line.front() == ' ' || line.front() == '\t') {
      return fail("a part's header is folded over lines (not allowed in multipart/form-data)");
    }
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      return fail(fmt::format("a part's header line has no ':' ({} bytes)", line.size()));
    }
    std::string name = core::to_lower(core::trim(line.substr(0, colon)));
    auto value = parse_header_value(line.substr(colon + 1));
    if (!value) return fail(fmt::format("a part's {} header: {}", name, value.error().message));
    if (name == "content-disposition" && !disposition) {
      disposition = true;
      if (value->first != "form-data") {
        return fail(
            fmt::format("a part's Content-Disposition is '{}', not form-data", value->first));
      }
      if (const std::string* n = value->param("name")) head.name = *n;
      if (const std::string* f = value->param("filename")) head.filename = *f;
    } else if (name == "content-type" && head.content_type.empty()) {
      head.content_type = value->first;
    }
  }
  if (!disposition) return fail("a part has no Content-Disposition header");
  if (head.name.empty()) return fail("a part has no name (Content-Disposition: form-data; name=)");
  out.push_back({.kind = Event::Kind::head, .head = std::move(head), .data = {}});
  return {};
}

// Where data may be handed on up to: all of `buf` but what could begin a delimiter that the next
// piece completes.
std::size_t MultipartReader::kept_back_from(std::string_view buf, std::size_t p) const {
  std::size_t dlen = delimiter_.size();
  return std::max(p, buf.size() >= dlen ? buf.size() - (dlen - 1) : p);
}

util::Result<MultipartReader::Step> MultipartReader::preamble(std::string_view buf,
                                                              std::size_t& p) {
  std::size_t at = buf.find(delimiter_, p);
  if (at == std::string_view::npos) {
    p = kept_back_from(buf, p);  // the preamble is ignored
    return Step::wait;
  }
  p = at + delimiter_.size();
  state_ = State::after_delimiter;
  return Step::more;
}

util::Result<MultipartReader::Step> MultipartReader::after_delimiter(std::string_view buf,
                                                                     std::size_t& p,
                                                                     std::vector<Event>& out) {
  if (buf.size() - p < 2) return Step::wait;
  if (buf.substr(p, 2) == "--") {
    out.push_back({.kind = Event::Kind::end_of_body, .head = {}, .data = {}});
    state_ = State::epilogue;
    p = buf.size();
    return Step::wait;
  }
  std::size_t q = p;
  while (q < buf.size() && (buf[q] == ' ' || buf[q] == '\t'))
    ++q;
  if (q - p > limits_.head_bytes) return fail("too much padding after a boundary");
  if (buf.size() - q < 2) return Step::wait;
  if (buf.substr(q, 2) != kCrlf) {
    return fail(
        "a boundary delimiter is not followed by CRLF (the boundary appears in the data, or the "
        "body is not multipart)");
  }
  if (++parts_ > limits_.parts) {
    return fail(fmt::format("more than {} parts in one body", limits_.parts));
  }
  p = q + 2;
  state_ = State::head;
  return Step::more;
}

util::Result<MultipartReader::Step> MultipartReader::head(std::string_view buf, std::size_t& p,
                                                          std::vector<Event>& out) {
  auto too_long = [this] {
    return fail(fmt::format("a part's headers are over {} bytes", limits_.head_bytes));
  };
  std::size_t block_end = p;  // a part without headers: its head is the empty line alone
  if (buf.substr(p, 2) != kCrlf) {
    // From where the last piece's search stopped: a head fed a byte at a time is not searched
    // again from its start each time.
    std::size_t end = buf.find("\r\n\r\n", p + (head_scanned_ > 3 ? head_scanned_ - 3 : 0));
    if (end == std::string_view::npos) {
      head_scanned_ = buf.size() - p;
      if (buf.size() - p > limits_.head_bytes) return too_long();
      return Step::wait;
    }
    block_end = end + 2;
  }
  if (block_end - p > limits_.head_bytes) return too_long();
  if (auto r = read_head(buf.substr(p, block_end - p), out); !r) return r.error();
  head_scanned_ = 0;
  p = block_end + 2;
  state_ = State::body;
  return Step::more;
}

MultipartReader::Step MultipartReader::body(std::string_view buf, std::size_t& p,
                                            std::vector<Event>& out) {
  std::size_t at = buf.find(delimiter_, p);
  std::size_t data_end = at == std::string_view::npos ? kept_back_from(buf, p) : at;
  if (data_end > p) {
    out.push_back({.kind = Event::Kind::data, .head = {}, .data = buf.substr(p, data_end - p)});
  }
  p = data_end;
  if (at == std::string_view::npos) return Step::wait;
  out.push_back({.kind = Event::Kind::end_of_part, .head = {}, .data = {}});
  p = at + delimiter_.size();
  state_ = State::after_delimiter;
  return Step::more;
}

util::Result<void> MultipartReader::feed(std::string_view piece, std::vector<Event>& out) {
  out.clear();
  if (state_ == State::failed) return util::Error{"the multipart body was already malformed"};
  if (state_ == State::epilogue) return {};
  buffer_.erase(0, consumed_);
  buffer_.append(piece);
  consumed_ = 0;
  const std::string_view buf = buffer_;
  std::size_t p = 0;
  for (Step step = Step::more; step == Step::more;) {
    util::Result<Step> r = Step::wait;
    switch (state_) {
      case State::preamble:
        r = preamble(buf, p);
        break;
      case State::after_delimiter:
        r = after_delimiter(buf, p, out);
        break;
      case State::head:
        r = head(buf, p, out);
        break;
      case State::body:
        r = body(buf, p, out);
        break;
      case State::epilogue:
      case State::failed:
        break;
    }
    if (!r) return r.error();
    step = *r;
  }
  consumed_ = p;
  return {};
}

}  // namespace vramq::server
