// GET / and GET /assets/*: the web dashboard (web/, embedded: server/web_assets). The page and its
// script hold no data: they are served without a token, and the page asks for one before it
// reads anything (every API route still needs it). Strict headers: the page runs only its own
// script, talks only to this server, and cannot be framed.
#include <fmt/format.h>

#include "server/problem.hpp"
#include "server/router.hpp"
#include "server/web_assets.hpp"

namespace vramq::server {

Response handle_web(const Request& req) {
  std::optional<WebAsset> asset = web_asset(req.path);
  if (!asset) return problem(Problem::not_found, fmt::format("no such resource: {}", req.path));
  std::vector<std::pair<std::string, std::string>> headers = {
      {"ETag", std::string(asset->etag)},
      {"Cache-Control", "no-cache"},
      {"X-Content-Type-Options", "nosniff"},
      {"Referrer-Policy", "no-referrer"},
      {"Content-Security-Policy",
       "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
       "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"},
  };
  if (req.header("if-none-match") == asset->etag) {
    return Response{.status = 304,
                    .content_type = {},
                    .body = {},
                    .headers = std::move(headers),
                    .stream = nullptr};
  }
  return Response{.status = 200,
                  .content_type = std::string(asset->content_type),
                  .body = std::string(asset->body),
                  .headers = std::move(headers),
                  .stream = nullptr};
}

}  // namespace vramq::server
