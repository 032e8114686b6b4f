#pragma once
// Reading a request's body as it arrives (HttpServer's part for uploads): "100 Continue" when the
// client waits for it, and a body handed to a BodySink piece by piece, never held whole, at a
// pace the client must keep. Beast's parser and stream; loop only.

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <optional>

#include "server/http_server.hpp"
#include "server/http_types.hpp"

namespace vramq::server {

using HeadParser = boost::beast::http::request_parser<boost::beast::http::string_body>;

// A client that closed, reset or timed out: nothing to answer.
bool quiet_end(const boost::beast::error_code& ec);

// Sends "100 Continue" when the client asked for it (Expect); false when the write failed.
boost::asio::awaitable<bool> continue_if_asked(boost::beast::tcp_stream& stream,
                                               const HeadParser::value_type& head,
                                               std::chrono::seconds timeout);

// A body handed to a sink piece by piece as it arrives (an upload), never held whole. Each read
// must come within the read timeout, and once that long has been spent waiting on the client the
// body must average 16 KiB/s (408 otherwise): a client cannot hold its connection by trickling.
// The answer to send when the body is refused (then the connection closes); closed when there is
// nothing to say. `head_parser` (its header read) is taken over.
struct SinkRead {
  bool closed = false;
  std::optional<Response> refusal;
  bool keep_alive = false;
};
boost::asio::awaitable<SinkRead> read_into_sink(boost::beast::tcp_stream& stream,
                                                boost::beast::flat_buffer& buffer,
                                                HeadParser& head_parser, BodySink& sink,
                                                const HttpLimits& limits);

}  // namespace vramq::server
