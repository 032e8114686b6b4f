#pragma once
// The RFC 9112 framing rules that Beast's parser is lenient about, checked on what the client
// sent before the request is acted on. A request that breaks one is answered 400 and its
// connection closed: a proxy in front of us may have framed it differently (request smuggling).

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace vramq::server {

// Where the header block (request line up to and including the empty line) ends in `received`,
// or nullopt while it is incomplete.
std::optional<std::size_t> header_block_end(std::string_view received);

// A header field folded over several lines (obs-fold: a line that starts with a space or a tab):
// the reason to refuse the block, else nullopt.
std::optional<std::string> folded_header(std::string_view header_block);

// Transfer-Encoding must be absent or exactly one "chunked" (in any case), on HTTP/1.1, and never
// beside Content-Length. `values`: each Transfer-Encoding field's value as received.
std::optional<std::string> transfer_encoding_error(std::span<const std::string_view> values,
                                                   bool has_content_length, unsigned version);

}  // namespace vramq::server
