#pragma once
// What the HTTP server lets clients hold at once: open connections (in all, and per client
// address) and request-body bytes buffered in memory (across all connections). Pure bookkeeping:
// the listener asks before it accepts or reads, and gives back when done. Loop only.

#include <boost/asio/ip/address.hpp>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

namespace vramq::server {

// Who counts as one client: an IPv4 address, or an IPv6 /64 (one host usually holds a whole /64,
// so counting single IPv6 addresses would cap nothing). IPv4-mapped IPv6 counts as IPv4.
std::string client_key(const boost::asio::ip::address& address);

enum class ConnectionRefusal { none, server_full, client_full };

class ConnectionTable {
 public:
  ConnectionTable(std::size_t max_total, std::size_t max_per_client,
                  std::size_t max_per_owner = SIZE_MAX)
      : max_total_(max_total), max_per_client_(max_per_client), max_per_owner_(max_per_owner) {}
  // Counts the connection in when there is room; else says which cap it hit.
  ConnectionRefusal admit(const std::string& client);
  void release(const std::string& client);
  std::size_t total() const { return total_; }
  std::size_t of(const std::string& client) const;
  std::size_t max_total() const { return max_total_; }

  // A connection's requests authenticated as `owner` (a token's holder): counted against the
  // per-owner cap, below the per-address cap, so that one token cannot fill the places of
  // everyone behind the same address (a reverse proxy, a jump host). False at the cap.
  bool admit_owner(const std::string& owner);
  void release_owner(const std::string& owner);
  std::size_t of_owner(const std::string& owner) const;
  std::size_t max_per_owner() const { return max_per_owner_; }

 private:
  std::size_t max_total_;
  std::size_t max_per_client_;
  std::size_t max_per_owner_;
  std::map<std::string, std::size_t> per_owner_;
  std::size_t total_ = 0;
  std::map<std::string, std::size_t> per_client_;  // only clients with a connection open
};

// Request bodies buffered across connections. A body is reserved in full before its first byte
// is read (its Content-Length, or the body limit when chunked), so the sum never passes the cap.
class BodyBudget {
 public:
  explicit BodyBudget(std::size_t max_bytes) : max_bytes_(max_bytes) {}
  bool reserve(std::size_t bytes);
  // True when the heap is worth trimming now: nothing is buffered any more and a lot was
  // since the last time (so that memory a burst of bodies took goes back to the system).
  bool release(std::size_t bytes);
  std::size_t in_use() const { return in_use_; }

 private:
  std::size_t max_bytes_;
  std::size_t in_use_ = 0;
  std::size_t since_trim_ = 0;
};

}  // namespace vramq::server
