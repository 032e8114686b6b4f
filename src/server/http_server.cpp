#include "server/http_server.hpp"

#include <malloc.h>
#include <sys/socket.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>
#include <cerrno>
#include <vector>

#include "core/text.hpp"
#include "server/accept_backoff.hpp"
#include "server/client_wait.hpp"
#include "server/connection_limits.hpp"
#include "server/framing.hpp"
#include "server/problem.hpp"
#include "server/streamed_body.hpp"

namespace vramq::server {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct HttpServer::Shared {
  Shared(Router& r, HttpLimits l)
      : router(&r),
        limits(l),
        connections(l.max_connections, l.max_connections_per_client, l.max_connections_per_owner),
        bodies(l.buffered_body_bytes) {}
  Router* router;
  HttpLimits limits;
  ConnectionTable connections;
  BodyBudget bodies;
  AcceptBackoff backoff;
};

namespace {

using BeastRequest = http::request<http::string_body>;
using BeastResponse = http::response<http::string_body>;
using Parser = http::request_parser<http::string_body>;

// Beast's parsed header -> our plain Request (no body yet); the target is split and
// percent-decoded by Boost.URL.
boost::system::result<Request, Response> to_request(const BeastRequest& in) {
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

Response parse_failure(const beast::error_code& ec, const HttpLimits& limits) {
  if (ec == http::error::body_limit) {
    return problem(
        Problem::payload_too_large,
        fmt::format("the request body is over the limit of {} bytes", limits.body_bytes));
  }
  if (ec == http::error::header_limit) {
    return problem(Problem::headers_too_large, fmt::format("the request headers are over the "
                                                           "limit of {} bytes",
                                                           limits.header_bytes));
  }
  return problem(Problem::bad_request, fmt::format("malformed HTTP request: {}", ec.message()));
}

// The connection as handlers see it: learns that the client left while a handler waits.
class SocketClient final : public Client {
 public:
  explicit SocketClient(tcp::socket& socket) : socket_(socket) {}

  asio::awaitable<void> hangup() override {
    auto [ec] =
        co_await socket_.async_wait(tcp::socket::wait_read, asio::as_tuple(asio::use_awaitable));
    if (ec == asio::error::operation_aborted) co_return;  // the wait won and cancelled this
    if (!ec) {
      char byte = 0;
      ssize_t n = ::recv(socket_.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
      if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))) {
        // It sent more (a pipelined request): still there, and the socket says nothing more
        // until that is read. Wait to be cancelled.
        asio::steady_timer never(socket_.get_executor(), asio::steady_timer::time_point::max());
        co_await never.async_wait(asio::as_tuple(asio::use_awaitable));
        co_return;
      }
    }
    gone_ = true;  // EOF (n == 0), a reset, or a socket error
  }
  bool gone() const { return gone_; }

 private:
  tcp::socket& socket_;
  bool gone_ = false;
};

// Gives the connection's place back however the coroutine ends.
struct Counted {
  std::shared_ptr<HttpServer::Shared> shared;
  std::string client;
  Counted(std::shared_ptr<HttpServer::Shared> s, std::string c)
      : shared(std::move(s)), client(std::move(c)) {}
  Counted(const Counted&) = delete;
  Counted& operator=(const Counted&) = delete;
  ~Counted() { shared->connections.release(client); }
};

// A connection's place among its owner's (the holder of the token its requests carry).
struct OwnerSeat {
  std::shared_ptr<HttpServer::Shared> shared;
  std::string owner;
  OwnerSeat(std::shared_ptr<HttpServer::Shared> s, std::string o)
      : shared(std::move(s)), owner(std::move(o)) {}
  OwnerSeat(const OwnerSeat&) = delete;
  OwnerSeat& operator=(const OwnerSeat&) = delete;
  ~OwnerSeat() { shared->connections.release_owner(owner); }
};

// Counts the connection for `principal` (the owner of its request) unless it already is; the
// 503 to answer when that owner is at --max-connections-per-owner. No tokens: nothing counted.
std::optional<Response> take_owner_seat(std::optional<OwnerSeat>& seat,
                                        const std::shared_ptr<HttpServer::Shared>& shared,
                                        const std::string& principal) {
  if (principal.empty() || (seat && seat->owner == principal)) return std::nullopt;
  seat.reset();
  if (!shared->connections.admit_owner(principal)) {
    Response busy = problem(
        Problem::unavailable,
        fmt::format("{} already has {} connections open, its limit "
                    "(--max-connections-per-owner); close some (event streams, log followers) "
                    "or reuse them",
                    principal, shared->limits.max_connections_per_owner));
    busy.headers.emplace_back("Retry-After", "1");
    return busy;
  }
  seat.emplace(shared, principal);
  return std::nullopt;
}

// A body's reservation in the shared budget; trims the heap when a burst of bodies is gone.
struct BodyLease {
  std::shared_ptr<HttpServer::Shared> shared;
  std::size_t bytes;
  BodyLease(std::shared_ptr<HttpServer::Shared> s, std::size_t b)
      : shared(std::move(s)), bytes(b) {}
  BodyLease(const BodyLease&) = delete;
  BodyLease& operator=(const BodyLease&) = delete;
  ~BodyLease() {
    if (shared->bodies.release(bytes)) ::malloc_trim(0);
  }
};

// Reads until the buffer holds the request's whole header block, refuses what breaks RFC 9112
// framing, then parses the header (not the body). Answers: closed (nothing to say), a refusal to
// send before closing, or neither (the header is in `parser`).
struct HeadRead {
  bool closed = false;
  std::optional<Response> refusal;
};

asio::awaitable<HeadRead> read_head(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                                    Parser& parser, const HttpLimits& limits) {
  while (true) {
    std::string_view seen(static_cast<const char*>(buffer.data().data()), buffer.size());
    if (std::optional<std::size_t> end = header_block_end(seen)) {
      if (auto folded = folded_header(seen.substr(0, *end))) {
        co_return HeadRead{.refusal = problem(Problem::bad_request, *folded)};
      }
      beast::error_code ec;
      std::size_t used = parser.put(buffer.data(), ec);
      if (!ec && !parser.is_header_done()) ec = http::error::need_more;  // cannot happen
      if (ec) co_return HeadRead{.refusal = parse_failure(ec, limits)};
      buffer.consume(used);
      co_return HeadRead{};
    }
    if (seen.size() > limits.header_bytes) {
      co_return HeadRead{.refusal = parse_failure(http::error::header_limit, limits)};
    }
    auto [ec, n] =
        co_await stream.async_read_some(buffer.prepare(8192), asio::as_tuple(asio::use_awaitable));
    if (ec) co_return HeadRead{.closed = true};
    buffer.commit(n);
  }
}

// The header's framing: anything but one exact "chunked" is refused (request smuggling).
std::optional<Response> framing_refusal(const BeastRequest& head) {
  std::vector<std::string_view> te;
  for (const auto& field : head) {
    if (field.name() == http::field::transfer_encoding) te.push_back(field.value());
  }
  bool has_length = head.find(http::field::content_length) != head.end();
  if (auto why = transfer_encoding_error(te, has_length, head.version())) {
    return problem(Problem::bad_request, *why);
  }
  return std::nullopt;
}

// Sends `out` and closes: for refusals after which the stream cannot be trusted (the body was
// not read, or the framing was wrong).
asio::awaitable<void> answer_and_close(beast::tcp_stream& stream, Response out, unsigned version,
                                       std::chrono::seconds timeout) {
  BeastResponse res = to_beast(std::move(out), version, false);
  stream.expires_after(timeout);
  co_await http::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
}

// A streamed body: the header, then one HTTP chunk per piece, then the last chunk. Each write has
// a deadline; waiting for the next piece has none (the stream bounds that) but ends when the
// client leaves. False: the connection is unusable.
asio::awaitable<bool> write_streamed(beast::tcp_stream& stream, SocketClient& client, Response out,
                                     unsigned version, bool keep_alive,
                                     std::chrono::seconds write_timeout) {
  http::response<http::empty_body> res = head_of<http::empty_body>(out, version, keep_alive);
  res.chunked(true);
  if (int bytes = out.stream->send_buffer_bytes(); bytes > 0) {
    boost::system::error_code ignored;
    stream.socket().set_option(asio::socket_base::send_buffer_size(bytes), ignored);
  }
  http::response_serializer<http::empty_body> serializer{res};
  stream.expires_after(write_timeout);
  auto [hec, hn] =
      co_await http::async_write_header(stream, serializer, asio::as_tuple(asio::use_awaitable));
  if (hec) co_return false;
  while (true) {
    stream.expires_never();
    auto next = out.stream->next();
    std::optional<std::string> piece;
    if (out.stream->may_wait()) {
      piece = co_await unless_client_leaves(std::move(next), &client);
    } else {
      piece = co_await std::move(next);
    }
    if (!piece) co_return false;
    if (piece->empty()) break;
    stream.expires_after(write_timeout);
    auto [ec, n] = co_await asio::async_write(stream, http::make_chunk(asio::buffer(*piece)),
                                              asio::as_tuple(asio::use_awaitable));
    if (ec) co_return false;
  }
  stream.expires_after(write_timeout);
  auto [lec, ln] = co_await asio::async_write(stream, http::make_chunk_last(),
                                              asio::as_tuple(asio::use_awaitable));
  co_return !lec;
}

// The 503 for a body the shared budget cannot hold now.
Response bodies_busy() {
  Response busy = problem(Problem::unavailable,
                          "the server holds as many request bodies as it may at once: try again "
                          "in a moment");
  busy.headers.emplace_back("Retry-After", "1");
  return busy;
}

// Reads a request's body, once it is admitted: handed to its sink piece by piece (an upload), or
// whole into memory within --body-limit-bytes, its room reserved in the shared budget first (the
// lease). Closed: nothing to answer; a refusal: the answer before closing.
struct BodyRead {
  bool closed = false;
  std::optional<Response> refusal;
  bool keep_alive = false;
};
asio::awaitable<BodyRead> read_body(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                                    Parser& parser, BodySink* sink, Request& req,
                                    const std::shared_ptr<HttpServer::Shared>& shared,
                                    std::optional<BodyLease>& lease) {
  const HttpLimits& limits = shared->limits;
  if (sink != nullptr) {
    if (parser.content_length() && *parser.content_length() > sink->max_body_bytes()) {
      co_return BodyRead{.refusal = problem(Problem::payload_too_large,
                                            fmt::format("the upload is over the limit of {} bytes",
                                                        sink->max_body_bytes()))};
    }
    if (!shared->bodies.reserve(sink->buffered_bytes()))
      co_return BodyRead{.refusal = bodies_busy()};
    lease.emplace(shared, sink->buffered_bytes());
    if (!co_await continue_if_asked(stream, parser.get(), limits.read_timeout)) {
      co_return BodyRead{.closed = true};
    }
    SinkRead read = co_await read_into_sink(stream, buffer, parser, *sink, limits);
    if (read.closed) co_return BodyRead{.closed = true};
    std::optional<Response> refusal = std::move(read.refusal);
    if (!refusal) refusal = co_await sink->finish(req);
    if (refusal) co_return BodyRead{.refusal = std::move(refusal)};
    co_return BodyRead{.keep_alive = read.keep_alive};
  }
  if (!parser.is_done()) {
    if (parser.content_length() && *parser.content_length() > limits.body_bytes) {
      co_return BodyRead{.refusal = parse_failure(http::error::body_limit, limits)};
    }
    parser.body_limit(limits.body_bytes);  // a chunked body, as its chunks come
    std::size_t want = parser.content_length().value_or(limits.body_bytes);
    if (!shared->bodies.reserve(want)) co_return BodyRead{.refusal = bodies_busy()};
    lease.emplace(shared, want);
    if (!co_await continue_if_asked(stream, parser.get(), limits.read_timeout)) {
      co_return BodyRead{.closed = true};
    }
    stream.expires_after(limits.read_timeout);
    auto [ec, n] =
        co_await http::async_read(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
    if (ec && quiet_end(ec)) co_return BodyRead{.closed = true};
    if (ec) co_return BodyRead{.refusal = parse_failure(ec, limits)};
  }
  req.body = std::move(parser.get().body());
  co_return BodyRead{.keep_alive = parser.get().keep_alive()};
}

// One connection: read a request's header, authenticate it, read its body, answer it, repeat
// while keep-alive. State lives in the coroutine's parameters and locals (never lambda captures:
// g++ 12 frees those twice). The connection is counted in `shared` before this starts.
asio::awaitable<void> serve_connection(beast::tcp_stream stream,
                                       std::shared_ptr<HttpServer::Shared> shared,
                                       std::string client_address) {
  Counted counted(shared, std::move(client_address));
  const HttpLimits& limits = shared->limits;
  SocketClient client(stream.socket());
  beast::flat_buffer buffer;
  bool admitted_once = false;     // a request on this connection passed authentication
  std::optional<OwnerSeat> seat;  // counted for the owner of its last authenticated request
  while (true) {
    Parser parser;
    // The header is read without a body limit: which limit applies (a JSON body's, an upload's)
    // is known only once the request is authenticated and routed, and a client without a token
    // gets 401 whatever its Content-Length.
    parser.body_limit(boost::none);
    parser.header_limit(static_cast<std::uint32_t>(limits.header_bytes));
    stream.expires_after(admitted_once
                             ? limits.read_timeout
                             : std::min(limits.first_request_timeout, limits.read_timeout));
    HeadRead head = co_await read_head(stream, buffer, parser, limits);
    if (head.closed) break;
    if (head.refusal) {
      co_await answer_and_close(stream, std::move(*head.refusal), 11, limits.read_timeout);
      break;
    }
    unsigned version = parser.get().version();
    if (auto refusal = framing_refusal(parser.get())) {
      co_await answer_and_close(stream, std::move(*refusal), version, limits.read_timeout);
      break;
    }
    auto req = to_request(parser.get());
    if (!req) {
      Response bad = req.error();
      co_await answer_and_close(stream, std::move(bad), version, limits.read_timeout);
      break;
    }
    // Authenticated before a byte of the body is read; refused: the body is never read.
    if (std::optional<Response> refusal = shared->router->admit(*req)) {
      co_await answer_and_close(stream, std::move(*refusal), version, limits.read_timeout);
      break;
    }
    admitted_once = true;
    if (std::optional<Response> full = take_owner_seat(seat, shared, req->principal)) {
      co_await answer_and_close(stream, std::move(*full), version, limits.read_timeout);
      break;
    }
    std::optional<std::uint64_t> length;
    if (parser.content_length()) length = *parser.content_length();
    auto sink = shared->router->sink_for(*req, length);
    if (!sink) {
      co_await answer_and_close(stream, sink.error(), version, limits.read_timeout);
      break;
    }
    std::optional<BodyLease> lease;  // held until the handler is done with the body
    BodyRead read = co_await read_body(stream, buffer, parser, sink->get(), *req, shared, lease);
    if (read.closed) break;
    if (read.refusal) {
      co_await answer_and_close(stream, std::move(*read.refusal), version, limits.read_timeout);
      break;
    }
    bool keep_alive = read.keep_alive;
    sink->reset();  // its staged files, if any, are the request's now
    req->client = &client;
    stream.expires_never();  // the handler's own waits are bounded (or end when the client goes)
    Response out = co_await shared->router->handle(std::move(*req));
    lease.reset();
    if (client.gone()) break;
    if (out.stream) {
      if (!co_await write_streamed(stream, client, std::move(out), version, keep_alive,
                                   limits.read_timeout) ||
          !keep_alive) {
        break;
      }
      continue;
    }
    BeastResponse res = to_beast(std::move(out), version, keep_alive);
    stream.expires_after(limits.read_timeout);
    auto [wec, wn] = co_await http::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
    if (wec || !keep_alive) break;
  }
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

// Over a connection cap: a short 503 written without waiting (it fits the socket's buffer), then
// the socket is closed. The client learns why instead of seeing a bare close.
void refuse_connection(tcp::socket& socket, ConnectionRefusal why, const HttpLimits& limits) {
  Response busy = problem(
      Problem::unavailable,
      why == ConnectionRefusal::client_full
          ? fmt::format("this client address already has {} connections open",
                        limits.max_connections_per_client)
          : fmt::format("the server has {} connections open, its limit", limits.max_connections));
  busy.headers.emplace_back("Retry-After", "1");
  BeastResponse res = to_beast(std::move(busy), 11, false);
  http::serializer<false, http::string_body> serializer(res);
  beast::error_code ignored;
  socket.non_blocking(true, ignored);
  http::write(socket, serializer, ignored);  // non-blocking: what does not fit is dropped
  socket.shutdown(tcp::socket::shutdown_send, ignored);
  socket.close(ignored);
}

// accept() failed for want of a descriptor or memory: the loop must pause, not spin.
bool out_of_resources(const beast::error_code& ec) {
  return ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space ||
         ec == asio::error::no_memory ||
         (ec.category() == asio::error::get_system_category() && ec.value() == ENFILE);
}

asio::awaitable<void> accept_loop(tcp::acceptor& acceptor,
                                  std::shared_ptr<HttpServer::Shared> shared) {
  asio::steady_timer pause(acceptor.get_executor());
  while (acceptor.is_open()) {
    auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
    if (ec == asio::error::operation_aborted) break;
    if (ec && out_of_resources(ec)) {
      AcceptBackoff::Step step = shared->backoff.failed(AcceptBackoff::Clock::now());
      if (step.log) {
        spdlog::warn(
            "accept failed: {} ({} more since the last message); new connections wait "
            "{} ms (open: {}, limit {}; raise LimitNOFILE or lower --max-connections)",
            ec.message(), step.suppressed, step.wait.count(), shared->connections.total(),
            shared->limits.max_connections);
      }
      pause.expires_after(step.wait);
      co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    if (ec) continue;  // the client gave up before it was accepted (ECONNABORTED and the like)
    shared->backoff.succeeded();
    beast::error_code peer_ec;
    tcp::endpoint peer = socket.remote_endpoint(peer_ec);
    if (peer_ec) continue;  // already gone; the socket closes here
    std::string client = client_key(peer.address());
    ConnectionRefusal refused = shared->connections.admit(client);
    if (refused != ConnectionRefusal::none) {
      refuse_connection(socket, refused, shared->limits);
      continue;
    }
    asio::co_spawn(
        acceptor.get_executor(),
        serve_connection(beast::tcp_stream(std::move(socket)), shared, std::move(client)),
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
    : ioc_(ioc), acceptor_(ioc), shared_(std::make_shared<Shared>(router, limits)) {}

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
