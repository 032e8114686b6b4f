#include "server/held_requests.hpp"

namespace vramq::server {
namespace {

template <class Map, class Key>
std::size_t count_of(const Map& map, const Key& key) {
  auto it = map.find(key);
  return it == map.end() ? 0 : it->second;
}

template <class Map, class Key>
void decrement(Map& map, const Key& key) {
  auto it = map.find(key);
  if (it == map.end()) return;
  if (--it->second == 0) map.erase(it);
}

}  // namespace

HeldRequests::Ticket::~Ticket() {
  table_->give_back(job_, owner_);
}

HeldRequests::Taken HeldRequests::take(core::JobId job, const std::string& owner) {
  if (job != 0 && of_job(job) >= limits_.per_job) return {nullptr, Refusal::job_full};
  if (of_owner(owner) >= limits_.per_owner) return {nullptr, Refusal::owner_full};
  if (job != 0) ++per_job_[job];
  ++per_owner_[owner];
  Taken taken;
  taken.ticket = std::make_unique<Ticket>(shared_from_this(), job, owner);
  return taken;
}

std::size_t HeldRequests::of_job(core::JobId job) const {
  return count_of(per_job_, job);
}

std::size_t HeldRequests::of_owner(const std::string& owner) const {
  return count_of(per_owner_, owner);
}

void HeldRequests::give_back(core::JobId job, const std::string& owner) {
  decrement(per_job_, job);
  decrement(per_owner_, owner);
}

}  // namespace vramq::server
