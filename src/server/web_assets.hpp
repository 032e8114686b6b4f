#pragma once
// The web dashboard's files (web/), embedded in the binary at build time (no CDN, nothing read
// from disk at run time): the page at GET / and its script and style under /assets/.

#include <optional>
#include <string_view>

namespace vramq::server {

struct WebAsset {
  std::string_view content_type;
  std::string_view body;
  std::string_view etag;  // a hash of the body, quoted: a browser revalidates with If-None-Match
};

// The asset served at `path` ("/", "/assets/app.js", ...), if any.
std::optional<WebAsset> web_asset(std::string_view path);

}  // namespace vramq::server
