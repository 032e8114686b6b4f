#include "util/webhook_signature.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <stdexcept>

#include "util/data_url.hpp"

namespace vramq::util {
namespace {

std::string base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

}  // namespace

std::optional<std::string> webhook_key(std::string_view secret) {
  constexpr std::string_view kPrefix = "whsec_";
  if (!secret.starts_with(kPrefix)) return std::nullopt;
  // The strict decoder of data: URLs (util/data_url), through a URL of its form.
  auto key = decode_data_url("data:;base64," + std::string(secret.substr(kPrefix.size())));
  if (!key || key->empty()) return std::nullopt;
  return key;
}

std::string webhook_secret(std::string_view key) {
  return "whsec_" + base64(key);
}

std::string sign_webhook(std::string_view key, std::string_view id, std::int64_t timestamp_s,
                         std::string_view body) {
  std::string signed_content = std::string(id) + '.' + std::to_string(timestamp_s) + '.';
  signed_content.append(body);
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  unsigned int size = 0;
  // HMAC fails only when libcrypto cannot allocate or is broken: nothing to recover.
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(signed_content.data()), signed_content.size(),
           mac.data(), &size) == nullptr) {
    throw std::runtime_error("HMAC-SHA256 failed (libcrypto)");
  }
  return "v1," + base64(std::string_view(reinterpret_cast<const char*>(mac.data()), size));
}

}  // namespace vramq::util
