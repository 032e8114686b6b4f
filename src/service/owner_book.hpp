#pragma once
// The owners the server knows (issue 24): the owners file, or the token file mapped onto it, as
// last (re)loaded; the small numbers that queued jobs carry for their owners
// (core::QueuedJob::owner: the queue counts by them without a string per job); and what an
// owner's limits allow a submission. Loop only.

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/fair_share.hpp"
#include "core/job.hpp"
#include "core/owner_quota.hpp"
#include "core/owners.hpp"
#include "service/job_request.hpp"
#include "service/job_users.hpp"

namespace vramq::core {
struct WorkerView;
}

namespace vramq::service {

class OwnerBook {
 public:
  // The owners in force. Null: the server has no tokens (everyone anonymous and unlimited).
  // The last quota view and its group names go with the file they were made from.
  void set(std::shared_ptr<const core::Owners> owners) {
    owners_ = std::move(owners);
    last_view_ = {};
    last_groups_.clear();
  }
  const std::shared_ptr<const core::Owners>& owners() const { return owners_; }
  // Who jobs run as (service/job_users.hpp), made with the owners in force.
  void set_users(std::shared_ptr<const JobUsers> users) { users_ = std::move(users); }
  // The user a job of `owner` runs as; nullptr: vramq's own.
  const util::UnixUser* user_of(std::string_view owner) const {
    return users_ ? users_->of(owner) : nullptr;
  }
  // Who each owner's jobs run as, by owner number, into a pass's view of warm workers (a worker
  // serves only jobs that run as its user).
  void add_uids(core::WorkerView& view) const;

  // An owner's number, given the first time its name is seen and never reused while the server
  // runs (an owner dropped from the file keeps it: its jobs still carry it). "" is 0.
  std::uint32_t id(const std::string& name);
  // The number of a name already seen, else nullopt (nothing of it can be counted yet).
  std::optional<std::uint32_t> find_id(const std::string& name) const;
  // The name of a number given by id() ("" if none).
  const std::string& name_of(std::uint32_t id) const;

  // What guarantees an owner's jobs: its own quota_mb, or (a member without one) its group's
  // pool, shared with the group's other such members; nullopt when none does. `holder` names
  // it ("alice", "group vision"): jobs with the same holder share the guarantee.
  struct Guarantee {
    std::string holder;
    std::int64_t mb = 0;
  };
  std::optional<Guarantee> guarantee(const std::string& owner) const;

  // Counts of an owner's jobs that admission asks for: how many wait (queued, parked, or being
  // stored), by owner number.
  using Count = std::function<std::int64_t(std::uint32_t)>;
  // Why `spec`'s owner may not submit it now, or nullopt. `priority` above the owner's or its
  // group's max_priority: forbidden. Its owner's (or group's) waiting jobs at max_queued:
  // queue_full, unless `starts_now()` (a job that starts at once never waits, as with
  // --queue-max).
  std::optional<SubmitError> refuses(const core::JobSpec& spec, const Count& waiting,
                                     const std::function<bool()>& starts_now) const;

  // A running job as quotas and fair share count it: its owner, what it reserves (MiB x GPUs)
  // and since when.
  struct Held {
    const std::string* owner = nullptr;
    std::int64_t mb = 0;
    std::int64_t start_ms = 0;
  };
  // The quotas and limits a scheduling pass applies, with what `running` holds now (empty when
  // no owner or group has a quota_mb, limit_mb or max_running: nobody is limited). Kept as the
  // last view, for quota_figures().
  const core::QuotaView& quota_view(const std::vector<Held>& running);
  // What quotas would make of a start of `spec` now, without a pass (a job admitted past a full
  // queue because it starts at once must really be allowed to start).
  core::QuotaVerdict verdict_now(const core::JobSpec& spec, const std::vector<Held>& running) const;
  // Why a job of `owner` needing `need_mb` waits for quota, in figures from the last view
  // ("alice holds 40960 MiB of its limit_mb 40960"); "" when it would not.
  std::string quota_figures(const std::string& owner, std::int64_t need_mb, bool preemptible) const;

  // Fair share (core/fair_share.hpp): half_life_ms <= 0 turns it off. It applies once the
  // server has owners; an anonymous server's queue stays FIFO by priority.
  void use_fair_share(std::int64_t half_life_ms) { fair_ = core::FairShare(half_life_ms); }
  // A run ended: its owner's use grows by what it reserved from start to end.
  void ran(const std::string& owner, std::int64_t mb, std::int64_t start_ms, std::int64_t end_ms);
  // Use already summed (the usage ledger at start-up).
  void used(const std::string& owner, double mib_s, std::int64_t at_ms);
  // The shares that order the queue now (by owner number), from ended runs and `running`; empty
  // when fair share is off or there are no owners. Kept, with each owner's use, for share_of().
  std::vector<double> shares(std::int64_t now_ms, const std::vector<Held>& running);
  struct Share {
    double use_mib_s = 0;  // decayed, as of the last pass
    double weight = 1;
  };
  // An owner's use and weight as the last pass ordered the queue by; nullopt when fair share
  // did not apply.
  std::optional<Share> share_of(const std::string& owner) const;

 private:
  std::shared_ptr<const core::Owners> owners_;
  std::shared_ptr<const JobUsers> users_;
  std::map<std::string, std::uint32_t, std::less<>> ids_{{"", 0}};
  std::vector<std::string> names_{""};  // by number
  core::QuotaView last_view_;
  std::vector<std::string> last_groups_;  // names of last_view_'s groups
  core::FairShare fair_;
  std::vector<double> last_uses_;     // by owner number, at the last shares()
  std::vector<double> last_weights_;  // the same
};

// What each running job holds, by owner, as quotas count it (reservation x GPUs): `running` is
// keyed by the ids of running jobs, `active` holds the jobs.
template <class Runs>
std::vector<OwnerBook::Held> held_by_owners(const Runs& running,
                                            const std::map<core::JobId, core::Job>& active) {
  std::vector<OwnerBook::Held> out;
  out.reserve(running.size());
  for (const auto& [id, r] : running) {
    auto j = active.find(id);
    if (j == active.end()) continue;
    out.push_back({.owner = &j->second.spec.owner,
                   .mb = j->second.spec.vram_mb * std::max(1, j->second.spec.gpus),
                   .start_ms = j->second.started_at_ms});
  }
  return out;
}

}  // namespace vramq::service
