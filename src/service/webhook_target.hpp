#pragma once
// Where a job's webhook may go (issue 25, item 2), decided before anything is sent: a webhook URL
// names a host the server will call, so it is an SSRF vector. Only http(s) URLs without user
// info, to hosts an operator allows (--webhook-allow: host names, and networks as CIDRs;
// nothing by default). A name is trusted with whatever it resolves to (the operator named it);
// a host given as an address, or resolved from a name that is not listed, must lie inside a
// listed network, checked again on every address DNS gives (no rebinding past the check). Also
// the back-off between delivery attempts. Pure (Boost.URL and Asio's address types only).

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/network_v4.hpp>
#include <boost/asio/ip/network_v6.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace vramq::service {

struct WebhookTarget {
  bool https = false;
  std::string host;    // lower case; an IPv6 address without its brackets
  std::string port;    // "80"/"443" when the URL has none
  std::string target;  // path and query, "/" at least
};

// A client's webhook URL, checked: at most 2048 characters, http or https, a host, no user
// info, no fragment.
core::Result<WebhookTarget> parse_webhook_url(std::string_view url);

class WebhookAllow {
 public:
  // Entries: host names ("hooks.example.com", lower-cased) or networks ("10.0.0.0/8",
  // "fd00::/8", or one address). An entry that is neither is an error naming it.
  static core::Result<WebhookAllow> parse(const std::vector<std::string>& entries);

  bool empty() const { return names_.empty() && v4_.empty() && v6_.empty(); }
  // Whether a URL's host may be called at all.
  bool allows_host(std::string_view host) const;
  // Whether `address`, which `host` resolved to, may be connected to.
  bool allows_address(std::string_view host, const boost::asio::ip::address& address) const;

 private:
  std::vector<std::string> names_;
  std::vector<boost::asio::ip::network_v4> v4_;
  std::vector<boost::asio::ip::network_v6> v6_;
};

// The wait before delivery attempt `attempt` + 1 (attempt >= 1: the one that failed): "full
// jitter" over an exponential, 1 s doubling up to 1 h, scaled by `random01` in [0, 1).
std::int64_t webhook_retry_delay_ms(int attempt, double random01);

}  // namespace vramq::service
