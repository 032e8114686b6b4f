#pragma once
// SHA-256 (OpenSSL's libcrypto): the form bearer tokens are kept and compared in, and the
// fingerprint of a request body (Idempotency-Key), uploads included, taken as it streams in.

#include <memory>
#include <string>
#include <string_view>

namespace vramq::util {

// The digest of `data` as 64 lower-case hex digits.
std::string sha256_hex(std::string_view data);

// The same, fed in pieces.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  void update(std::string_view data);
  // The digest of everything fed so far (it may be fed more afterwards).
  std::string hex() const;

 private:
  struct Context;
  std::unique_ptr<Context> ctx_;
};

}  // namespace vramq::util
