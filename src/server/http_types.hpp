#pragma once
// Plain request and response values: handlers see these, never a socket or a Beast type, so
// that they stay small and testable in memory.

#include <boost/asio/awaitable.hpp>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/owners.hpp"

namespace vramq::service {
class StagedInputs;
}

namespace vramq::server {

// The connection a request came on, as far as a handler that waits needs it.
class Client {
 public:
  virtual ~Client() = default;
  // Completes once the client has gone (closed its side or reset the connection); stays pending
  // while it is there. Cancellable: race it with the wait (`||`) and the loser is cancelled.
  virtual boost::asio::awaitable<void> hangup() = 0;
};

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string path;    // percent-decoded path, without the query
  std::vector<std::pair<std::string, std::string>> query;    // decoded, in order
  std::vector<std::pair<std::string, std::string>> headers;  // lower-case names
  std::string body;
  // Who sent it (set by the router once the token is checked): the owner of what it submits.
  std::string principal;                // "" when no tokens are configured
  core::Role role = core::Role::admin;  // admin: may act on every job (always, without tokens)
  bool admin() const { return role == core::Role::admin; }
  // Set by the HTTP server, which outlives the handler; null where there is no connection.
  Client* client = nullptr;
  // Files that came with it (a multipart/form-data submit): `body` is then its JSON part.
  std::shared_ptr<service::StagedInputs> inputs;

  std::optional<std::string_view> query_param(std::string_view name) const;
  std::optional<std::string_view> header(std::string_view lower_name) const;
};

// A body produced piece by piece (log follow): sent with chunked transfer encoding.
class BodyStream {
 public:
  virtual ~BodyStream() = default;
  // The next piece; "" ends the body.
  virtual boost::asio::awaitable<std::string> next() = 0;
  // Whether next() may wait for something to happen (a log follower): such a wait ends when the
  // client leaves. One that only reads what exists is not raced with the client, so that a
  // client that half-closes after its request still gets the whole answer.
  virtual bool may_wait() const { return false; }
  // Set (> 0): the socket's send buffer is cut to this, so that a client that stops reading
  // holds up little memory in the kernel before its writes block (and time out).
  virtual int send_buffer_bytes() const { return 0; }
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::shared_ptr<BodyStream> stream;  // set: `body` is ignored and the stream is sent instead
};

// Where a request body goes when it is not held in memory whole (an upload): the router picks
// one on the request's header (Router::sink_for), and the server hands it the body piece by
// piece as it arrives. Any answer from write() or finish() is the request's (the rest of the
// body is not read, and the connection closes).
class BodySink {
 public:
  virtual ~BodySink() = default;
  // A piece of the body (valid during the call).
  virtual boost::asio::awaitable<std::optional<Response>> write(std::string_view piece) = 0;
  // The body has ended: sets what the handler reads of it (`body`, `inputs`).
  virtual boost::asio::awaitable<std::optional<Response>> finish(Request& req) = 0;
  // The most of the body it holds in memory at once (counted against the buffered-body budget).
  virtual std::size_t buffered_bytes() const = 0;
  // The most body it takes in all (413 above, from Content-Length before a byte is read).
  virtual std::size_t max_body_bytes() const = 0;
};

}  // namespace vramq::server
