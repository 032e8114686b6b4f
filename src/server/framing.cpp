#include "server/framing.hpp"

#include <fmt/format.h>

#include "core/text.hpp"

namespace vramq::server {

std::optional<std::size_t> header_block_end(std::string_view received) {
  std::size_t at = received.find("\r\n\r\n");
  if (at == std::string_view::npos) return std::nullopt;
  return at + 4;
}

std::optional<std::string> folded_header(std::string_view header_block) {
  // Every line after the request line starts a field; the block ends with an empty line.
  for (std::size_t at = header_block.find("\r\n"); at != std::string_view::npos;
       at = header_block.find("\r\n", at + 2)) {
    if (at + 2 < header_block.size() &&
        (header_block[at + 2] == ' ' || header_block[at + 2] == '\t')) {
      return std::string(
          "a header field is folded over two lines (obs-fold, RFC 9112 section 5.2): send each "
          "field on one line");
    }
  }
  return std::nullopt;
}

std::optional<std::string> transfer_encoding_error(std::span<const std::string_view> values,
                                                   bool has_content_length, unsigned version) {
  if (values.empty()) return std::nullopt;
  if (values.size() > 1) {
    return std::string("Transfer-Encoding given more than once: send it once, as 'chunked'");
  }
  std::string_view value = core::trim(values.front());
  if (core::to_lower(value) != "chunked") {
    return fmt::format(
        "Transfer-Encoding '{}' is not supported: the only transfer coding accepted is 'chunked'",
        value);
  }
  if (version < 11) return std::string("Transfer-Encoding is not allowed in an HTTP/1.0 request");
  if (has_content_length) {
    return std::string("a request may not carry both Transfer-Encoding and Content-Length");
  }
  return std::nullopt;
}

}  // namespace vramq::server
