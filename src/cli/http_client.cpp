#include "cli/http_client.hpp"

#include <fmt/format.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>

namespace vramq::cli {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

core::Result<ServerUrl> parse_server_url(std::string_view text) {
  auto url = boost::urls::parse_absolute_uri(text);
  if (!url || url->scheme() != "http" || url->host().empty()) {
    return core::Error{fmt::format("'{}' is not a server URL such as http://127.0.0.1:8000", text)};
  }
  ServerUrl s;
  s.host = url->host();
  s.port = url->has_port() ? std::string(url->port()) : "80";
  s.base_path = url->path();
  while (!s.base_path.empty() && s.base_path.back() == '/')
    s.base_path.pop_back();
  return s;
}

core::Result<HttpResult> http_request(const ServerUrl& server, std::string_view method,
                                      std::string_view target, std::string_view body,
                                      std::string_view token, std::chrono::seconds timeout,
                                      const BodySink& sink, const Headers& headers,
                                      std::optional<std::chrono::seconds> idle) {
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  beast::error_code ec;
  asio::ip::tcp::resolver resolver(ioc);
  auto endpoints = resolver.resolve(server.host, server.port, ec);
  if (ec) return core::Error{fmt::format("cannot resolve {}: {}", server.host, ec.message())};

  http::request<http::string_body> req{http::string_to_verb(method),
                                       server.base_path + std::string(target), 11};
  req.set(http::field::host, server.host);
  req.set(http::field::user_agent, "vramq-cli");
  if (!token.empty()) req.set(http::field::authorization, fmt::format("Bearer {}", token));
  for (const auto& [name, value] : headers)
    req.set(name, value);
  if (!body.empty()) {
    if (req.find(http::field::content_type) == req.end()) {
      req.set(http::field::content_type, "application/json");
    }
    req.body() = std::string(body);
  }
  req.prepare_payload();

  HttpResult result;
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 << 20);
  bool stopped = false;  // the sink has what it wanted
  auto on_piece = [&sink, &stopped, &stream, idle](std::uint64_t, beast::string_view piece,
                                                   beast::error_code& e) {
    if (idle) stream.expires_after(*idle);  // the next read may take as long again
    if (!sink(std::string_view(piece.data(), piece.size()))) {
      stopped = true;
      e = asio::error::operation_aborted;  // ends the read
    }
    return piece.size();
  };
  if (sink) {
    parser.body_limit(boost::none);  // a followed log may be long; it is not kept
    parser.on_chunk_body(on_piece);
  }
  bool done = false;
  stream.expires_after(timeout);
  stream.async_connect(endpoints, [&](beast::error_code e, const auto&) {
    if (e) {
      ec = e;
      return;
    }
    http::async_write(stream, req, [&](beast::error_code we, std::size_t) {
      if (we) {
        ec = we;
        return;
      }
      if (sink && idle) {
        stream.expires_after(*idle);
      } else if (sink) {
        stream.expires_never();
      }
      http::async_read(stream, buffer, parser, [&](beast::error_code re, std::size_t) {
        ec = re;
        done = !re || stopped;
      });
    });
  });
  ioc.run();
  if (!done) {
    return core::Error{fmt::format("cannot reach the vramq server at {}:{}: {}", server.host,
                                   server.port, ec ? ec.message() : "no answer")};
  }
  auto& res = parser.get();
  result.status = static_cast<int>(res.result_int());
  result.body = std::move(res.body());
  for (const auto& f : res)
    result.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
  return result;
}

}  // namespace vramq::cli
