// Fuzz target: one HTTP request as a client sends it, through everything the server does with
// the bytes before a handler runs: the header block and its framing checks (obs-fold,
// Transfer-Encoding), Beast's parser with the server's limits, the target's path and query
// (Boost.URL), and the body through the submission's JSON codec.
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "server/framing.hpp"
#include "server/json_codec.hpp"

namespace http = boost::beast::http;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::optional<std::size_t> end = vramq::server::header_block_end(in);
  if (!end) return 0;
  if (vramq::server::folded_header(in.substr(0, *end))) return 0;
  http::request_parser<http::string_body> parser;
  parser.header_limit(16 << 10);
  parser.body_limit(1 << 20);
  parser.eager(true);
  boost::beast::error_code ec;
  std::size_t used = parser.put(boost::asio::buffer(in.data(), in.size()), ec);
  if (ec && ec != http::error::need_more) return 0;
  if (!parser.is_header_done()) return 0;
  const auto& head = parser.get();
  std::vector<std::string_view> te;
  for (const auto& field : head) {
    if (field.name() == http::field::transfer_encoding) te.push_back(field.value());
  }
  bool has_length = head.find(http::field::content_length) != head.end();
  if (vramq::server::transfer_encoding_error(te, has_length, head.version())) return 0;
  if (auto url = boost::urls::parse_origin_form(head.target())) {
    std::string path = url->path();
    for (auto param : url->params()) {
      path += param.key;
      path += param.value;
    }
  }
  if (parser.is_done()) {
    (void)vramq::server::parse_submit(parser.get().body());
  } else {
    // A body cut short: what arrived still goes through the codec (it must never crash).
    (void)vramq::server::parse_submit(in.substr(std::min(used, in.size())));
  }
  return 0;
}
