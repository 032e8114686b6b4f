#include "service/owner_book.hpp"

#include "core/scheduler.hpp"

#include <fmt/format.h>
#include <algorithm>

namespace vramq::service {
namespace {

// A group's pool: its guarantee less what its members are guaranteed of their own.
std::optional<std::int64_t> pool_mb(const core::Owners& owners, const core::OwnerGroup& g) {
  std::optional<std::int64_t> pool = g.limits.quota_mb;
  for (const core::Owner& m : owners.owners) {
    if (pool && m.group == g.name && m.limits.quota_mb) *pool -= *m.limits.quota_mb;
  }
  return pool;
}

}  // namespace

std::uint32_t OwnerBook::id(const std::string& name) {
  auto [it, fresh] = ids_.emplace(name, static_cast<std::uint32_t>(ids_.size()));
  if (fresh) names_.push_back(name);
  return it->second;
}

const std::string& OwnerBook::name_of(std::uint32_t id) const {
  return id < names_.size() ? names_[id] : names_[0];
}

std::optional<OwnerBook::Guarantee> OwnerBook::guarantee(const std::string& owner) const {
  const core::Owner* o = owners_ ? owners_->find(owner) : nullptr;
  if (o == nullptr) return std::nullopt;
  if (o->limits.quota_mb) return Guarantee{.holder = o->name, .mb = *o->limits.quota_mb};
  const core::OwnerGroup* g = owners_->group_of(*o);
  if (g == nullptr) return std::nullopt;
  std::optional<std::int64_t> pool = pool_mb(*owners_, *g);
  if (!pool) return std::nullopt;
  return Guarantee{.holder = "group " + g->name, .mb = *pool};
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

const core::QuotaView& OwnerBook::quota_view(const std::vector<Held>& running) {
  last_view_ = {};
  last_groups_.clear();
  if (!owners_) return last_view_;
  auto limits_any = [](const core::OwnerLimits& l) {
    return l.quota_mb || l.limit_mb || l.max_running;
  };
  bool any = std::ranges::any_of(owners_->owners,
                                 [&](const core::Owner& o) { return limits_any(o.limits); }) ||
             std::ranges::any_of(owners_->groups,
                                 [&](const core::OwnerGroup& g) { return limits_any(g.limits); });
  if (!any) return last_view_;
  core::QuotaView& v = last_view_;
  for (const core::OwnerGroup& g : owners_->groups) {
    v.groups.push_back({.pool_mb = pool_mb(*owners_, g),
                        .limit_mb = g.limits.limit_mb,
                        .max_running = g.limits.max_running});
    last_groups_.push_back(g.name);
  }
  for (const core::Owner& o : owners_->owners) {
    std::uint32_t n = id(o.name);
    if (n >= v.owners.size()) v.owners.resize(n + 1);
    auto group = std::ranges::find(owners_->groups, o.group, &core::OwnerGroup::name);
    v.owners[n] = {.quota_mb = o.limits.quota_mb,
                   .limit_mb = o.limits.limit_mb,
                   .max_running = o.limits.max_running,
                   .group = group == owners_->groups.end()
                                ? -1
                                : static_cast<int>(group - owners_->groups.begin())};
  }
  for (const Held& h : running) {
    auto n = find_id(*h.owner);
    if (!n || *n >= v.owners.size()) continue;  // an owner with no limits
    core::OwnerQuota& o = v.owners[*n];
    o.held_mb += h.mb;
    ++o.running;
    if (o.group < 0) continue;
    core::GroupQuota& g = v.groups[static_cast<std::size_t>(o.group)];
    g.held_mb += h.mb;
    ++g.running;
    if (!o.quota_mb) g.pool_held_mb += h.mb;
  }
  return last_view_;
}

core::QuotaVerdict OwnerBook::verdict_now(const core::JobSpec& spec,
                                          const std::vector<Held>& running) const {
  const core::Owner* owner = owners_ ? owners_->find(spec.owner) : nullptr;
  if (owner == nullptr) return core::QuotaVerdict::guaranteed;
  const core::OwnerGroup* group = owners_->group_of(*owner);
  // A view of this owner (0) and its group (0) alone.
  core::QuotaView v;
  v.owners.push_back({.quota_mb = owner->limits.quota_mb,
                      .limit_mb = owner->limits.limit_mb,
                      .max_running = owner->limits.max_running,
                      .group = group != nullptr ? 0 : -1});
  if (group != nullptr) {
    v.groups.push_back({.pool_mb = pool_mb(*owners_, *group),
                        .limit_mb = group->limits.limit_mb,
                        .max_running = group->limits.max_running});
  }
  for (const Held& h : running) {
    const core::Owner* o = *h.owner == spec.owner ? owner : nullptr;
    if (o != nullptr) {
      v.owners[0].held_mb += h.mb;
      ++v.owners[0].running;
    }
    if (group == nullptr) continue;
    const core::Owner* member = o != nullptr ? o : owners_->find(*h.owner);
    if (member == nullptr || member->group != group->name) continue;
    v.groups[0].held_mb += h.mb;
    ++v.groups[0].running;
    if (!member->limits.quota_mb) v.groups[0].pool_held_mb += h.mb;
  }
  return core::quota_verdict(v, 0, spec.vram_mb * std::max(1, spec.gpus), spec.preemptible);
}

std::string OwnerBook::quota_figures(const std::string& owner, std::int64_t need_mb,
                                     bool preemptible) const {
  auto n = find_id(owner);
  if (!n || *n >= last_view_.owners.size()) return "";
  const core::OwnerQuota& o = last_view_.owners[*n];
  const core::GroupQuota* g =
      o.group >= 0 ? &last_view_.groups[static_cast<std::size_t>(o.group)] : nullptr;
  std::string group = g != nullptr ? last_groups_[static_cast<std::size_t>(o.group)] : "";
  auto over = [&](const auto& h, const std::string& who) -> std::string {
    if (h.max_running && h.running + 1 > *h.max_running) {
      return fmt::format("{} runs {} jobs, its max_running is {}", who, h.running, *h.max_running);
    }
    if (h.limit_mb && h.held_mb + need_mb > *h.limit_mb) {
      return fmt::format("{} holds {} MiB of its limit_mb {}; this job needs {} more", who,
                         h.held_mb, *h.limit_mb, need_mb);
    }
    return "";
  };
  if (std::string s = over(o, owner); !s.empty()) return s;
  if (g != nullptr) {
    if (std::string s = over(*g, "group " + group); !s.empty()) return s;
  }
  if (preemptible) return "";
  if (o.quota_mb && o.held_mb + need_mb > *o.quota_mb) {
    return fmt::format(
        "{} holds {} MiB of its quota_mb {}; this job needs {} more and is not "
        "preemptible, so it may not borrow",
        owner, o.held_mb, *o.quota_mb, need_mb);
  }
  if (!o.quota_mb && g != nullptr && g->pool_mb && g->pool_held_mb + need_mb > *g->pool_mb) {
    return fmt::format(
        "group {}'s shared guarantee is {} MiB, {} held; this job needs {} more "
        "and is not preemptible, so it may not borrow",
        group, *g->pool_mb, g->pool_held_mb, need_mb);
  }
  return "";
}

void OwnerBook::ran(const std::string& owner, std::int64_t mb, std::int64_t start_ms,
                    std::int64_t end_ms) {
  if (fair_.enabled() && start_ms > 0) fair_.add_run(id(owner), mb, start_ms, end_ms);
}

void OwnerBook::used(const std::string& owner, double mib_s, std::int64_t at_ms) {
  fair_.add_use(id(owner), mib_s, at_ms);
}

std::vector<double> OwnerBook::shares(std::int64_t now_ms, const std::vector<Held>& running) {
  last_uses_.clear();
  last_weights_.clear();
  if (!fair_.enabled() || !owners_) return {};
  std::vector<core::FairShare::Running> runs;
  runs.reserve(running.size());
  for (const Held& h : running) {
    if (h.start_ms > 0) runs.push_back({.owner = id(*h.owner), .mb = h.mb, .start_ms = h.start_ms});
  }
  last_uses_ = fair_.uses(now_ms, runs);
  last_weights_.assign(ids_.size(), 1.0);
  for (const core::Owner& o : owners_->owners) {
    std::uint32_t n = id(o.name);
    if (n >= last_weights_.size()) last_weights_.resize(n + 1, 1.0);
    last_weights_[n] = o.limits.weight;
  }
  return core::FairShare::shares(last_uses_, last_weights_);
}

std::optional<OwnerBook::Share> OwnerBook::share_of(const std::string& owner) const {
  if (last_weights_.empty()) return std::nullopt;
  auto n = find_id(owner);
  if (!n) return std::nullopt;
  return Share{.use_mib_s = *n < last_uses_.size() ? last_uses_[*n] : 0.0,
               .weight = *n < last_weights_.size() ? last_weights_[*n] : 1.0};
}

void OwnerBook::add_uids(core::WorkerView& view) const {
  auto uid = [](const util::UnixUser* u) { return u != nullptr ? std::int64_t{u->uid} : -1; };
  view.default_uid = uid(users_ && users_->fallback ? &*users_->fallback : nullptr);
  view.owner_uids.clear();
  if (!users_ || users_->owners.empty()) return;
  view.owner_uids.reserve(names_.size());
  for (const std::string& name : names_)
    view.owner_uids.push_back(uid(user_of(name)));
}

}  // namespace vramq::service
