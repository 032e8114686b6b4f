#include "server/http_server.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>

#include "core/text.hpp"
#include "server/problem.hpp"

namespace vramq::server {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct HttpServer::Shared {
  Router* router = nullptr;
  HttpLimits limits;
  std::size_t connections = 0;
};

namespace {

using BeastRequest = http::request<http::string_body>;
using BeastResponse = http::response<http::string_body>;

// Beast's message -> our plain Request; the target is split and percent-decoded by Boost.URL.
boost::system::result<Request, Response> to_request(BeastRequest&& in) {
  auto url = boost::urls::parse_origin_form(in.target());
  if (!url) {
    return problem(Problem::bad_request, fmt::format("the request target is not a valid path: {}",
                                                     url.error().message()));
  }
  Request req;
  req.method = std::string(in.method_string());
  req.path = url->path();
  for (auto param : url->params())
    req.query.emplace_back(param.key, param.value);
  for (const auto& field : in)
    req.headers.emplace_back(core::to_lower(field.name_string()), field.value());
  req.body = std::move(in.body());
  return req;
}

// The status line and header fields every answer carries, whole or streamed.
template <class Body>
http::response<Body> head_of(const Response& r, unsigned version, bool keep_alive) {
  http::response<Body> res{static_cast<http::status>(r.status), version};
  res.set(http::field::server, "vramq");
  if (!r.content_type.empty()) res.set(http::field::content_type, r.content_type);
  for (const auto& [k, v] : r.headers)
    res.set(k, v);
  res.keep_alive(keep_alive);
  return res;
}

BeastResponse to_beast(Response&& r, unsigned version, bool keep_alive) {
  BeastResponse res = head_of<http::string_body>(r, version, keep_alive);
  res.body() = std::move(r.body);
  res.prepare_payload();
  return res;
}

Response parse_failure(const beast::error_code& ec, std::size_t header_limit,
                       std::size_t body_limit) {
  if (ec == http::error::body_limit) {
    return problem(Problem::payload_too_large,
                   fmt::format("the request body is over the limit of {} bytes", body_limit));
  }
  if (ec == http::error::header_limit) {
    return problem(Problem::headers_too_large,
                   fmt::format("the request headers are over the limit of {} bytes", header_limit));
  }
  return problem(Problem::bad_request, fmt::format("malformed HTTP request: {}", ec.message()));
}

// A streamed body: the header, then one HTTP chunk per piece, then the last chunk. Each write has
// a deadline; waiting for the next piece has none (the stream bounds that). False: the
// connection is unusable.
asio::awaitable<bool> write_streamed(beast::tcp_stream& stream, Response out, unsigned version,
                                     bool keep_alive, std::chrono::seconds write_timeout) {
  http::response<http::empty_body> res = head_of<http::empty_body>(out, version, keep_alive);
  res.chunked(true);
  http::response_serializer<http::empty_body> serializer{res};
  stream.expires_after(write_timeout);
  auto [hec, hn] =
      co_await http::async_write_header(stream, serializer, asio::as_tuple(asio::use_awaitable));
  if (hec) co_return false;
  while (true) {
    std::string piece = co_await out.stream->next();
    if (piece.empty()) break;
    stream.expires_after(write_timeout);
    auto [ec, n] = co_await asio::async_write(stream, http::make_chunk(asio::buffer(piece)),
                                              asio::as_tuple(asio::use_awaitable));
    if (ec) co_return false;
  }
  stream.expires_after(write_timeout);
  auto [lec, ln] = co_await asio::async_write(stream, http::make_chunk_last(),
                                              asio::as_tuple(asio::use_awaitable));
  co_return !lec;
}

// One connection: read a request, answer it, repeat while keep-alive. State lives in the
// coroutine's parameters and locals (never lambda captures: g++ 12 frees those twice).
asio::awaitable<void> serve_connection(beast::tcp_stream stream,
                                       std::shared_ptr<HttpServer::Shared> shared) {
  ++shared->connections;
  beast::flat_buffer buffer;
  while (true) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(shared->limits.body_bytes);
    parser.header_limit(static_cast<std::uint32_t>(shared->limits.header_bytes));
    stream.expires_after(shared->limits.read_timeout);
    auto [ec, n] =
        co_await http::async_read(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == asio::error::connection_reset || ec == asio::error::eof) {
      break;
    }
    if (ec) {
      // The request could not be read whole: answer once, then close (the stream is unusable).
      BeastResponse res = to_beast(
          parse_failure(ec, shared->limits.header_bytes, shared->limits.body_bytes), 11, false);
      stream.expires_after(shared->limits.read_timeout);
      co_await http::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
      break;
    }
    BeastRequest in = parser.release();
    unsigned version = in.version();
    bool keep_alive = in.keep_alive();
    auto req = to_request(std::move(in));
    // No co_await inside ?: : g++ 12 destroys the temporaries of such an expression twice.
    Response out;
    if (req) {
      out = co_await shared->router->handle(std::move(*req));
    } else {
      out = req.error();
    }
    if (out.stream) {
      if (!co_await write_streamed(stream, std::move(out), version, keep_alive,
                                   shared->limits.read_timeout) ||
          !keep_alive) {
        break;
      }
      continue;
    }
    BeastResponse res = to_beast(std::move(out), version, keep_alive);
    stream.expires_after(shared->limits.read_timeout);
    auto [wec, wn] = co_await http::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
    if (wec || !keep_alive) break;
  }
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  --shared->connections;
}

asio::awaitable<void> accept_loop(tcp::acceptor& acceptor,
                                  std::shared_ptr<HttpServer::Shared> shared) {
  while (acceptor.is_open()) {
    auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
    if (ec == asio::error::operation_aborted) break;
    if (ec) {
      spdlog::warn("accept failed: {}", ec.message());  // e.g. EMFILE: keep serving the others
      continue;
    }
    if (shared->connections >= shared->limits.max_connections) {
      beast::error_code ignored;
      socket.close(ignored);  // over the cap: refuse rather than grow without bound
      continue;
    }
    asio::co_spawn(acceptor.get_executor(),
                   serve_connection(beast::tcp_stream(std::move(socket)), shared),
                   [](const std::exception_ptr& e) {
                     if (!e) return;
                     try {
                       std::rethrow_exception(e);
                     } catch (const std::exception& ex) {
                       spdlog::error("connection failed: {}", ex.what());
                     }
                   });
  }
}

}  // namespace

HttpServer::HttpServer(asio::io_context& ioc, Router& router, HttpLimits limits)
    : ioc_(ioc), acceptor_(ioc), shared_(std::make_shared<Shared>()) {
  shared_->router = &router;
  shared_->limits = limits;
}

HttpServer::~HttpServer() = default;

core::Result<tcp::endpoint> HttpServer::listen(const std::string& host, std::uint16_t port) {
  beast::error_code ec;
  auto address = asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
  if (ec) return core::Error{fmt::format("listen: '{}' is not an IP address", host)};
  tcp::endpoint endpoint(address, port);
  if (acceptor_.open(endpoint.protocol(), ec); ec) {
    return core::Error{fmt::format("listen {}: {}", host, ec.message())};
  }
  acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (acceptor_.bind(endpoint, ec); ec) {
    return core::Error{fmt::format("cannot listen on {}:{}: {}", host, port, ec.message())};
  }
  if (acceptor_.listen(asio::socket_base::max_listen_connections, ec); ec) {
    return core::Error{fmt::format("cannot listen on {}:{}: {}", host, port, ec.message())};
  }
  return acceptor_.local_endpoint();
}

void HttpServer::start() {
  asio::co_spawn(ioc_, accept_loop(acceptor_, shared_), asio::detached);
}

void HttpServer::stop() {
  beast::error_code ignored;
  acceptor_.close(ignored);
}

}  // namespace vramq::server
