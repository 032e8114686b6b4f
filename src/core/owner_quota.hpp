#pragma once
// VRAM quotas per owner and group, as a scheduling pass applies them (issue 24). Units are what
// a job reserves: MiB on each of its GPUs, times its GPU count, all GPUs together.
//
// Limits: a start that would take the owner or its group past `limit_mb` or `max_running` waits
// (PendingReason::quota). Guarantees: an owner with `quota_mb` is guaranteed that much; a member
// of a group without its own quota_mb shares the part of the group's quota_mb that no member has
// as its own (the group's pool); an owner with neither guarantees nothing and is not restricted
// by guarantees at all (its jobs start as every job did before quotas, within its limits).
// Within its guarantee a job is guaranteed; above it a preemptible job borrows (its start is
// marked: reclaim may take it back) and a job that is not preemptible waits, or others'
// guarantees could not hold.
// Pure; no I/O. The orchestrator builds a view per pass from its running jobs and the owners
// file (service::OwnerBook).

#include <cstdint>
#include <optional>
#include <vector>

namespace vramq::core {

struct OwnerQuota {
  std::optional<std::int64_t> quota_mb;
  std::optional<std::int64_t> limit_mb;
  std::optional<std::int64_t> max_running;
  int group = -1;            // index in QuotaView::groups, -1 for none
  std::int64_t held_mb = 0;  // reserved by its running jobs (MiB x GPUs), borrowed ones too
  std::int64_t running = 0;
  bool operator==(const OwnerQuota&) const = default;
};

struct GroupQuota {
  std::optional<std::int64_t> pool_mb;  // its quota_mb less its members' own quota_mb
  std::optional<std::int64_t> limit_mb;
  std::optional<std::int64_t> max_running;
  std::int64_t held_mb = 0;       // all its members' running jobs
  std::int64_t running = 0;       // all its members' running jobs
  std::int64_t pool_held_mb = 0;  // of members without a quota_mb of their own
  bool operator==(const GroupQuota&) const = default;
};

struct QuotaView {
  std::vector<OwnerQuota> owners;  // by owner number; one past the end has no limits
  std::vector<GroupQuota> groups;
  bool empty() const { return owners.empty(); }
};

enum class QuotaVerdict {
  guaranteed,  // within its limits and its guarantee (or no guarantee applies)
  borrows,     // within its limits, above its guarantee, and preemptible: starts borrowed
  waits,       // past a limit, or above its guarantee and not preemptible
};

// What a start of `need_mb` (reservation x GPUs) for `owner` would be now.
QuotaVerdict quota_verdict(const QuotaView& view, std::uint32_t owner, std::int64_t need_mb,
                           bool preemptible);

// A start was decided: its owner and group hold `need_mb` more and run one more job.
void quota_take(QuotaView& view, std::uint32_t owner, std::int64_t need_mb);

}  // namespace vramq::core
