#include "server/streamed_body.hpp"

#include <fmt/format.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <vector>

#include "core/text.hpp"
#include "server/problem.hpp"

namespace vramq::server {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

// A client that closed, reset or timed out: nothing to answer.
bool quiet_end(const beast::error_code& ec) {
  return ec == http::error::end_of_stream || ec == beast::error::timeout ||
         ec == asio::error::connection_reset || ec == asio::error::eof ||
         ec == asio::error::broken_pipe;
}

asio::awaitable<bool> continue_if_asked(beast::tcp_stream& stream,
                                        const HeadParser::value_type& head,
                                        std::chrono::seconds timeout) {
  auto expect = head.find(http::field::expect);
  if (expect == head.end() || core::to_lower(expect->value()) != "100-continue") co_return true;
  stream.expires_after(timeout);
  static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
  auto [ec, n] = co_await asio::async_write(stream, asio::buffer(kContinue),
                                            asio::as_tuple(asio::use_awaitable));
  co_return !ec;
}

asio::awaitable<SinkRead> read_into_sink(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                                         HeadParser& head_parser, BodySink& sink,
                                         const HttpLimits& limits) {
  constexpr std::uint64_t kMinBytesPerSecond = std::uint64_t{16} << 10;
  http::request_parser<http::buffer_body> parser(std::move(head_parser));
  parser.body_limit(sink.max_body_bytes());
  std::vector<char> piece(std::size_t{64} << 10);
  // Only time spent waiting on the client counts (not the server's own writes to disk).
  std::chrono::steady_clock::duration waited{};
  std::uint64_t received = 0;
  while (!parser.is_done()) {
    parser.get().body().data = piece.data();
    parser.get().body().size = piece.size();
    stream.expires_after(limits.read_timeout);
    auto before = std::chrono::steady_clock::now();
    auto [ec, n] =
        co_await http::async_read_some(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
    waited += std::chrono::steady_clock::now() - before;
    if (ec == http::error::need_buffer) ec = {};
    if (ec && quiet_end(ec)) co_return SinkRead{.closed = true};
    if (ec) {
      Response bad = ec == http::error::body_limit
                         ? problem(Problem::payload_too_large,
                                   fmt::format("the upload is over the limit of {} bytes",
                                               sink.max_body_bytes()))
                         : problem(Problem::bad_request,
                                   fmt::format("malformed HTTP request: {}", ec.message()));
      co_return SinkRead{.refusal = std::move(bad)};
    }
    std::size_t got = piece.size() - parser.get().body().size;
    received += got;
    if (got > 0) {
      if (std::optional<Response> r = co_await sink.write({piece.data(), got})) {
        co_return SinkRead{.refusal = std::move(r)};
      }
    }
    if (waited > limits.read_timeout &&
        received < kMinBytesPerSecond *
                       static_cast<std::uint64_t>(
                           std::chrono::duration_cast<std::chrono::seconds>(waited).count())) {
      co_return SinkRead{.refusal = problem(Problem::request_timeout,
                                            "the upload is too slow (under 16 KiB/s on average)")};
    }
  }
  co_return SinkRead{.keep_alive = parser.get().keep_alive()};
}

}  // namespace vramq::server
