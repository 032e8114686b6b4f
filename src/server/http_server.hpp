#pragma once
// The HTTP listener (Boost.Beast, C++20 coroutines): one coroutine per connection, every read
// bounded in time and size, handlers reached through the Router. Loop only.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstddef>
#include <memory>

#include "core/error.hpp"
#include "server/router.hpp"

namespace vramq::server {

struct HttpLimits {
  std::size_t body_bytes = 1 << 20;
  std::size_t header_bytes = 16 << 10;
  // A request must arrive whole within this, and each write finish; also the keep-alive idle time.
  std::chrono::seconds read_timeout{30};
  // A new connection's first request header (which carries its token) must arrive within this:
  // a connection that never authenticates does not hold its place for long.
  std::chrono::seconds first_request_timeout{10};
  std::size_t max_connections = 4096;
  std::size_t max_connections_per_client = 256;  // per IPv4 address or IPv6 /64
  // Per token holder, counted from a connection's first authenticated request (no tokens: none).
  std::size_t max_connections_per_owner = 64;
  // Request bodies held in memory at once, across connections; more wait (503, Retry-After).
  std::size_t buffered_body_bytes = std::size_t{64} << 20;
};

class HttpServer {
 public:
  HttpServer(boost::asio::io_context& ioc, Router& router, HttpLimits limits);
  ~HttpServer();
  // Binds and listens; the endpoint says the port actually bound (for port 0).
  core::Result<boost::asio::ip::tcp::endpoint> listen(const std::string& host, std::uint16_t port);
  void start();  // accepts until stop()
  void stop();   // closes the listening socket; open connections finish their request

  struct Shared;  // what connections share: router, limits, connection and body accounting

 private:
  boost::asio::io_context& ioc_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::shared_ptr<Shared> shared_;
};

}  // namespace vramq::server
