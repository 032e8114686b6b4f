#include "server/connection_limits.hpp"

#include <fmt/format.h>

namespace vramq::server {
namespace {
// Bodies buffered since the last trim before one is worth its cost (a few ms on a large heap).
constexpr std::size_t kTrimAfterBytes = std::size_t{32} << 20;
}  // namespace

std::string client_key(const boost::asio::ip::address& address) {
  if (address.is_v4()) return address.to_v4().to_string();
  boost::asio::ip::address_v6 v6 = address.to_v6();
  if (v6.is_v4_mapped()) {
    return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, v6).to_string();
  }
  boost::asio::ip::address_v6::bytes_type bytes = v6.to_bytes();
  for (std::size_t i = 8; i < bytes.size(); ++i)
    bytes[i] = 0;
  return boost::asio::ip::address_v6(bytes).to_string() + "/64";
}

ConnectionRefusal ConnectionTable::admit(const std::string& client) {
  if (total_ >= max_total_) return ConnectionRefusal::server_full;
  std::size_t& mine = per_client_[client];
  if (mine >= max_per_client_) {
    if (mine == 0) per_client_.erase(client);
    return ConnectionRefusal::client_full;
  }
  ++mine;
  ++total_;
  return ConnectionRefusal::none;
}

bool ConnectionTable::admit_owner(const std::string& owner) {
  std::size_t& mine = per_owner_[owner];
  if (mine >= max_per_owner_) {
    if (mine == 0) per_owner_.erase(owner);
    return false;
  }
  ++mine;
  return true;
}

void ConnectionTable::release_owner(const std::string& owner) {
  auto it = per_owner_.find(owner);
  if (it == per_owner_.end()) return;
  if (--it->second == 0) per_owner_.erase(it);
}

std::size_t ConnectionTable::of_owner(const std::string& owner) const {
  auto it = per_owner_.find(owner);
  return it == per_owner_.end() ? 0 : it->second;
}

void ConnectionTable::release(const std::string& client) {
  auto it = per_client_.find(client);
  if (it == per_client_.end()) return;  // never admitted: nothing to give back
  --total_;
  if (--it->second == 0) per_client_.erase(it);
}

std::size_t ConnectionTable::of(const std::string& client) const {
  auto it = per_client_.find(client);
  return it == per_client_.end() ? 0 : it->second;
}

bool BodyBudget::reserve(std::size_t bytes) {
  if (bytes > max_bytes_ - in_use_) return false;
  in_use_ += bytes;
  since_trim_ += bytes;
  return true;
}

bool BodyBudget::release(std::size_t bytes) {
  in_use_ -= std::min(bytes, in_use_);
  if (in_use_ != 0 || since_trim_ < kTrimAfterBytes) return false;
  since_trim_ = 0;
  return true;
}

}  // namespace vramq::server
