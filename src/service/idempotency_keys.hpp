#pragma once
// Idempotency-Keys: a retry with the same key and body gets the first job back for kLifetimeMs.
// One request per key is handled at a time (a retry racing its original waits for the original's
// answer: busy()), and the store's expired keys are removed about hourly (expiry_due()). The
// keys themselves live in the store, with their jobs. Loop only.

#include <cstdint>
#include <optional>
#include <set>
#include <string>

namespace vramq::service {

class IdempotencyKeys {
 public:
  static constexpr std::int64_t kLifetimeMs = std::int64_t{24} * 3600 * 1000;

  bool busy(const std::string& key) const { return in_flight_.contains(key); }
  // A request with `key` is being handled while the returned hold lives.
  class Hold {
   public:
    Hold(std::set<std::string>& keys, std::string key) : keys_(keys), key_(std::move(key)) {
      keys_.insert(key_);
    }
    Hold(const Hold&) = delete;
    Hold& operator=(const Hold&) = delete;
    ~Hold() { keys_.erase(key_); }

   private:
    std::set<std::string>& keys_;
    std::string key_;
  };
  Hold hold(std::string key) { return {in_flight_, std::move(key)}; }

  // Keys made before this are no longer honoured.
  static std::int64_t oldest_ms(std::int64_t now) { return now - kLifetimeMs; }
  // Once an hour: the time before which the store's keys may be removed now (else nullopt).
  std::optional<std::int64_t> expiry_due(std::int64_t now) {
    if (now - expired_at_ms_ <= std::int64_t{3600} * 1000) return std::nullopt;
    expired_at_ms_ = now;
    return oldest_ms(now);
  }

 private:
  std::set<std::string> in_flight_;
  std::int64_t expired_at_ms_ = 0;
};

}  // namespace vramq::service
