#include "util/sha256.hpp"

#include <openssl/evp.h>

#include <array>
#include <stdexcept>

namespace vramq::util {
namespace {

// libcrypto fails only when it cannot allocate or is broken: nothing to recover.
void check(int ok) {
  if (ok != 1) throw std::runtime_error("SHA-256 failed (libcrypto)");
}

std::string to_hex(const unsigned char* digest, unsigned int size) {
  constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(std::size_t{2} * size);
  for (unsigned int i = 0; i < size; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0xf]);
  }
  return out;
}

}  // namespace

std::string sha256_hex(std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  check(EVP_Digest(data.data(), data.size(), digest.data(), &size, EVP_sha256(), nullptr));
  return to_hex(digest.data(), size);
}

struct Sha256::Context {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> md{EVP_MD_CTX_new(), EVP_MD_CTX_free};
};

Sha256::Sha256() : ctx_(std::make_unique<Context>()) {
  if (!ctx_->md) throw std::runtime_error("SHA-256 failed (libcrypto)");
  check(EVP_DigestInit_ex(ctx_->md.get(), EVP_sha256(), nullptr));
}
Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::update(std::string_view data) {
  check(EVP_DigestUpdate(ctx_->md.get(), data.data(), data.size()));
}

std::string Sha256::hex() const {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> copy(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!copy) throw std::runtime_error("SHA-256 failed (libcrypto)");
  check(EVP_MD_CTX_copy_ex(copy.get(), ctx_->md.get()));
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  check(EVP_DigestFinal_ex(copy.get(), digest.data(), &size));
  return to_hex(digest.data(), size);
}

}  // namespace vramq::util
