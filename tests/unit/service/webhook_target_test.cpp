#include "service/webhook_target.hpp"

#include <gtest/gtest.h>

namespace vramq::service {
namespace {

namespace ip = boost::asio::ip;

TEST(WebhookTarget, OnlyPlainHttpUrls) {
  auto t = parse_webhook_url("https://Hooks.Example.com/vramq?team=a");
  ASSERT_TRUE(t) << t.error().message;
  EXPECT_TRUE(t->https);
  EXPECT_EQ(t->host, "hooks.example.com");
  EXPECT_EQ(t->port, "443");
  EXPECT_EQ(t->target, "/vramq?team=a");
  t = parse_webhook_url("http://[fd00::1]:8080");
  ASSERT_TRUE(t) << t.error().message;
  EXPECT_EQ(t->host, "fd00::1");
  EXPECT_EQ(t->port, "8080");
  EXPECT_EQ(t->target, "/");
  for (const char* bad : {"ftp://x/", "file:///etc/passwd", "http://user:pw@x/", "http://x/#f",
                          "/relative", "http:///nohost", "gopher://x", "http://x:0/"}) {
    EXPECT_FALSE(parse_webhook_url(bad)) << bad;
  }
  EXPECT_FALSE(parse_webhook_url("http://x/" + std::string(2048, 'a')));
}

TEST(WebhookTarget, NothingIsAllowedByDefault) {
  auto none = WebhookAllow::parse({});
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
  EXPECT_FALSE(none->allows_host("localhost"));
  EXPECT_FALSE(none->allows_host("127.0.0.1"));
  EXPECT_FALSE(none->allows_address("x", ip::make_address("10.0.0.1")));
}

TEST(WebhookTarget, NamesAndNetworks) {
  auto allow = WebhookAllow::parse({"Hooks.Example.com", "10.1.0.0/16", "192.0.2.7", "fd00::/8"});
  ASSERT_TRUE(allow) << allow.error().message;
  EXPECT_TRUE(allow->allows_host("hooks.example.com"));
  EXPECT_TRUE(allow->allows_address("hooks.example.com", ip::make_address("127.0.0.1")));
  EXPECT_TRUE(allow->allows_host("10.1.2.3"));
  EXPECT_FALSE(allow->allows_host("10.2.0.1"));
  EXPECT_TRUE(allow->allows_host("192.0.2.7"));
  EXPECT_FALSE(allow->allows_host("192.0.2.8"));
  EXPECT_TRUE(allow->allows_host("fd00::5"));
  EXPECT_FALSE(allow->allows_host("::1"));
  // A name not listed: each address it resolves to must lie in a listed network (no rebinding
  // to the metadata service or the loopback).
  EXPECT_TRUE(allow->allows_host("other.example.com"));
  EXPECT_TRUE(allow->allows_address("other.example.com", ip::make_address("10.1.9.9")));
  EXPECT_FALSE(allow->allows_address("other.example.com", ip::make_address("169.254.169.254")));
  EXPECT_FALSE(allow->allows_address("other.example.com", ip::make_address("::ffff:127.0.0.1")));
  EXPECT_TRUE(allow->allows_address("other.example.com", ip::make_address("::ffff:10.1.0.1")));
  auto names_only = WebhookAllow::parse({"hooks.example.com"});
  EXPECT_FALSE(names_only->allows_host("other.example.com"));
  for (const char* bad : {"10.0.0.0/33", "not a host", "fd00::/200", "-/x", "a..b/"}) {
    EXPECT_FALSE(WebhookAllow::parse({bad})) << bad;
  }
}

TEST(WebhookTarget, BackOffWithFullJitter) {
  EXPECT_EQ(webhook_retry_delay_ms(1, 0.999999), 999);
  EXPECT_EQ(webhook_retry_delay_ms(2, 0.5), 1000);
  EXPECT_EQ(webhook_retry_delay_ms(5, 0.5), 8000);
  EXPECT_EQ(webhook_retry_delay_ms(40, 0.5), 1'800'000);  // capped at 1 h
  EXPECT_EQ(webhook_retry_delay_ms(3, 0.0), 0);
}

}  // namespace
}  // namespace vramq::service
