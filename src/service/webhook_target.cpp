#include "service/webhook_target.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/url/parse.hpp>

#include "core/text.hpp"

namespace vramq::service {
namespace asio = boost::asio;

core::Result<WebhookTarget> parse_webhook_url(std::string_view url) {
  if (url.size() > 2048) return core::Error{"webhook.url is longer than 2048 characters"};
  auto parsed = boost::urls::parse_absolute_uri(url);
  if (!parsed) {
    return core::Error{
        fmt::format("webhook.url is not an absolute URL: {}", parsed.error().message())};
  }
  WebhookTarget t;
  std::string scheme = core::to_lower(parsed->scheme());
  if (scheme != "http" && scheme != "https") {
    return core::Error{"webhook.url must be http:// or https://"};
  }
  t.https = scheme == "https";
  if (!parsed->has_authority() || parsed->host_address().empty()) {
    return core::Error{"webhook.url has no host"};
  }
  if (parsed->has_userinfo()) return core::Error{"webhook.url must not carry user info"};
  if (parsed->has_fragment()) return core::Error{"webhook.url must not have a fragment"};
  t.host = core::to_lower(parsed->host_address());
  t.port = parsed->has_port() ? std::string(parsed->port()) : (t.https ? "443" : "80");
  if (parsed->has_port() && parsed->port_number() == 0) {
    return core::Error{"webhook.url's port is not valid"};
  }
  t.target = std::string(parsed->encoded_path());
  if (t.target.empty()) t.target = "/";
  if (parsed->has_query()) t.target += "?" + std::string(parsed->encoded_query());
  return t;
}

core::Result<WebhookAllow> WebhookAllow::parse(const std::vector<std::string>& entries) {
  WebhookAllow allow;
  for (const std::string& entry : entries) {
    boost::system::error_code ec;
    std::string e = core::to_lower(entry);
    bool network = e.find('/') != std::string::npos || e.find(':') != std::string::npos ||
                   (!e.empty() && std::ranges::all_of(e, [](char c) {
                     return (c >= '0' && c <= '9') || c == '.';
                   }));
    if (network) {
      std::string cidr = e;
      if (cidr.find('/') == std::string::npos)
        cidr += cidr.find(':') != std::string::npos ? "/128" : "/32";
      auto v4 = asio::ip::make_network_v4(cidr, ec);
      if (!ec) {
        allow.v4_.push_back(v4.canonical());
        continue;
      }
      ec.clear();
      auto v6 = asio::ip::make_network_v6(cidr, ec);
      if (!ec) {
        allow.v6_.push_back(v6.canonical());
        continue;
      }
      return core::Error{
          fmt::format("--webhook-allow: '{}' is neither a host name nor a network "
                      "(10.0.0.0/8, fd00::/8)",
                      entry)};
    }
    bool name = !e.empty() && e.size() <= 253 && e.front() != '.' && e.back() != '.' &&
                std::ranges::all_of(e, [](char c) {
                  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
                });
    if (!name) return core::Error{fmt::format("--webhook-allow: '{}' is not a host name", entry)};
    allow.names_.push_back(std::move(e));
  }
  return allow;
}

bool WebhookAllow::allows_host(std::string_view host) const {
  std::string h = core::to_lower(host);
  if (std::ranges::find(names_, h) != names_.end()) return true;
  boost::system::error_code ec;
  auto address = asio::ip::make_address(h, ec);
  // A name not listed may still resolve into a listed network: allowed now, each of its
  // addresses checked when it is called.
  if (ec) return !v4_.empty() || !v6_.empty();
  return allows_address(h, address);
}

bool WebhookAllow::allows_address(std::string_view host, const asio::ip::address& address) const {
  if (std::ranges::find(names_, core::to_lower(host)) != names_.end()) return true;
  asio::ip::address a = address;
  if (a.is_v6() && a.to_v6().is_v4_mapped()) {
    a = asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6());
  }
  if (a.is_v4()) {
    return std::ranges::any_of(v4_, [&](const asio::ip::network_v4& n) {
      return asio::ip::network_v4(a.to_v4(), 32).is_subnet_of(n) || n.address() == a.to_v4();
    });
  }
  return std::ranges::any_of(v6_, [&](const asio::ip::network_v6& n) {
    return asio::ip::network_v6(a.to_v6(), 128).is_subnet_of(n) || n.address() == a.to_v6();
  });
}

std::int64_t webhook_retry_delay_ms(int attempt, double random01) {
  constexpr std::int64_t kBaseMs = 1000;
  constexpr std::int64_t kCapMs = 3'600'000;
  int doublings = std::clamp(attempt - 1, 0, 20);
  std::int64_t ceiling = std::min(kCapMs, kBaseMs << doublings);
  double r = std::clamp(random01, 0.0, 1.0);
  return static_cast<std::int64_t>(r * static_cast<double>(ceiling));
}

}  // namespace vramq::service
