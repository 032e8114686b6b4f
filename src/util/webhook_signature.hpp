#pragma once
// Signing a webhook delivery as the Standard Webhooks specification says (issue 25, item 2):
// HMAC-SHA256 over "ID.TIMESTAMP.BODY" with the secret's key, sent as `webhook-signature:
// v1,BASE64`. A secret is written "whsec_" + base64 of its key. The receiving side's check is
// python/vramq/webhooks.py (verify_webhook).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vramq::util {

// The key of a "whsec_BASE64" secret; nullopt when it is not one.
std::optional<std::string> webhook_key(std::string_view secret);
// The secret for a key: "whsec_" + base64.
std::string webhook_secret(std::string_view key);
// The `webhook-signature` header's value for a delivery: "v1," + base64(HMAC-SHA256).
std::string sign_webhook(std::string_view key, std::string_view id, std::int64_t timestamp_s,
                         std::string_view body);

}  // namespace vramq::util
