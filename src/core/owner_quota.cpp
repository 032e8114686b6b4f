#include "core/owner_quota.hpp"

namespace vramq::core {
namespace {

template <class H>
bool over_limits(const H& h, std::int64_t need_mb) {
  return (h.limit_mb && h.held_mb + need_mb > *h.limit_mb) ||
         (h.max_running && h.running + 1 > *h.max_running);
}

}  // namespace

QuotaVerdict quota_verdict(const QuotaView& view, std::uint32_t owner, std::int64_t need_mb,
                           bool preemptible) {
  if (owner >= view.owners.size()) return QuotaVerdict::guaranteed;
  const OwnerQuota& o = view.owners[owner];
  const GroupQuota* g = o.group >= 0 ? &view.groups[static_cast<std::size_t>(o.group)] : nullptr;
  if (over_limits(o, need_mb) || (g != nullptr && over_limits(*g, need_mb))) {
    return QuotaVerdict::waits;
  }
  bool within = true;  // no guarantee applies: nothing to stay within
  if (o.quota_mb) {
    within = o.held_mb + need_mb <= *o.quota_mb;
  } else if (g != nullptr && g->pool_mb) {
    within = g->pool_held_mb + need_mb <= *g->pool_mb;
  }
  if (within) return QuotaVerdict::guaranteed;
  return preemptible ? QuotaVerdict::borrows : QuotaVerdict::waits;
}

void quota_take(QuotaView& view, std::uint32_t owner, std::int64_t need_mb) {
  if (owner >= view.owners.size()) return;
  OwnerQuota& o = view.owners[owner];
  o.held_mb += need_mb;
  ++o.running;
  if (o.group < 0) return;
  GroupQuota& g = view.groups[static_cast<std::size_t>(o.group)];
  g.held_mb += need_mb;
  ++g.running;
  if (!o.quota_mb) g.pool_held_mb += need_mb;
}

}  // namespace vramq::core
