#include "service/owner_book.hpp"

#include <fmt/format.h>

namespace vramq::service {

std::uint32_t OwnerBook::id(const std::string& name) {
  auto [it, fresh] = ids_.emplace(name, static_cast<std::uint32_t>(ids_.size()));
  return it->second;
}

std::optional<std::uint32_t> OwnerBook::find_id(const std::string& name) const {
  auto it = ids_.find(name);
  if (it == ids_.end()) return std::nullopt;
  return it->second;
}

std::optional<SubmitError> OwnerBook::refuses(const core::JobSpec& spec, const Count& waiting,
                                              const std::function<bool()>& starts_now) const {
  if (!owners_) return std::nullopt;
  const core::Owner* owner = owners_->find(spec.owner);
  if (owner == nullptr) return std::nullopt;  // a name no longer in the file: no limits known
  const core::OwnerGroup* group = owners_->group_of(*owner);
  auto waiting_of = [&](const std::string& name) -> std::int64_t {
    auto id = find_id(name);
    return id ? waiting(*id) : 0;
  };
  // Owner first: its own limit is the one it can act on.
  struct Holder {
    const core::OwnerLimits& limits;
    std::string what;  // "alice", "group vision"
    std::function<std::int64_t()> waiting;
  };
  std::vector<Holder> holders{
      {owner->limits, owner->name, [&] { return waiting_of(owner->name); }}};
  if (group != nullptr) {
    holders.push_back({group->limits, "group " + group->name, [&] {
                         std::int64_t sum = 0;
                         for (const core::Owner& m : owners_->owners) {
                           if (m.group == group->name) sum += waiting_of(m.name);
                         }
                         return sum;
                       }});
  }
  for (const Holder& h : holders) {
    if (h.limits.max_priority && spec.priority > *h.limits.max_priority) {
      return SubmitError{SubmitErrc::forbidden, "priority",
                         fmt::format("priority {} is above the max_priority {} of {}",
                                     spec.priority, *h.limits.max_priority, h.what)};
    }
  }
  std::optional<bool> now;  // asked once, and only at a limit (it plans)
  for (const Holder& h : holders) {
    if (!h.limits.max_queued) continue;
    std::int64_t n = h.waiting();
    if (n < *h.limits.max_queued) continue;
    if (!now) now = starts_now();
    if (*now) continue;
    return SubmitError{SubmitErrc::queue_full, "",
                       fmt::format("{} has {} jobs waiting, its max_queued is {}: wait for some "
                                   "to start or cancel some",
                                   h.what, n, *h.limits.max_queued),
                       0};
  }
  return std::nullopt;
}

}  // namespace vramq::service
