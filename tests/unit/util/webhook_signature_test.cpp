#include "util/webhook_signature.hpp"

#include <gtest/gtest.h>

namespace vramq::util {
namespace {

// The oracle is Python's hmac and base64 (the vector was computed with them, not with this
// code): the signature a Standard Webhooks receiver expects.
TEST(WebhookSignature, MatchesTheStandardWebhooksScheme) {
  const std::string key = "0123456789abcdef0123456789abcdef";
  EXPECT_EQ(webhook_secret(key), "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=");
  EXPECT_EQ(webhook_key("whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="), key);
  EXPECT_EQ(sign_webhook(key, "msg_2Lm", 1733616000, R"({"type":"job.ended","data":{"id":7}})"),
            "v1,CaiRNyISICPNzbB4BP8amYCwl8jF4+kBWePldHLZGtI=");
  EXPECT_NE(sign_webhook(key, "msg_2Lm", 1733616001, R"({"type":"job.ended","data":{"id":7}})"),
            "v1,CaiRNyISICPNzbB4BP8amYCwl8jF4+kBWePldHLZGtI=");
  EXPECT_FALSE(webhook_key("MDEy"));              // no prefix
  EXPECT_FALSE(webhook_key("whsec_"));            // no key
  EXPECT_FALSE(webhook_key("whsec_not base64"));  // not base64
}

}  // namespace
}  // namespace vramq::util
