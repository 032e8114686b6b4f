// Reclaim in the scheduling pass (issue 24): the orchestrator's side of service::Reclaimer. It
// gathers what a claim needs from the live state (each owner's next queued job with its reason,
// the running jobs with whether each is borrowed now, the GPUs held for starving jobs), stops a
// new claim's victims, and starts a claimant whose room has come free.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>

#include "core/reclaim.hpp"
#include "service/orchestrator.hpp"

namespace vramq::service {

using core::EndReason;
using core::Job;
using core::JobId;
using core::JobState;

namespace {

// Sets each running job's `borrowed` as it is now: per guarantee (an owner's own quota_mb, or
// its group's pool), in start order, those past it. Jobs that ended gave their room to later
// ones, so a job started borrowed can be guaranteed now.
template <class Runs>
void mark_borrowed(const Runs& running, std::map<JobId, Job>& active, const OwnerBook& owners) {
  struct Held {
    std::vector<JobId> ids;
    std::vector<std::int64_t> mbs;
    std::vector<std::int64_t> started;
    std::int64_t guarantee_mb = 0;
  };
  std::map<std::string, Held> by_holder;
  for (const auto& [id, r] : running) {
    Job& j = active.at(id);
    std::optional<OwnerBook::Guarantee> g = owners.guarantee(j.spec.owner);
    if (!g) {
      j.borrowed = false;  // no guarantee: nothing to borrow beyond
      continue;
    }
    Held& h = by_holder[g->holder];
    h.ids.push_back(id);
    h.mbs.push_back(j.spec.vram_mb * std::max(1, j.spec.gpus));
    h.started.push_back(j.started_at_ms);
    h.guarantee_mb = g->mb;
  }
  for (auto& [holder, h] : by_holder) {
    std::vector<bool> borrowed = core::borrowed_now(h.guarantee_mb, h.mbs, h.started);
    for (std::size_t i = 0; i < h.ids.size(); ++i)
      active.at(h.ids[i]).borrowed = borrowed[i];
  }
}

// The GPUs the last pass held for starving jobs: a hold for a job that would borrow gives way
// to a guarantee; others are respected.
core::Holds holds_now(const core::JobQueue& queue, const core::QuotaView& quotas,
                      std::size_t gpus) {
  core::Holds holds;
  for (int g = 0; g < static_cast<int>(gpus); ++g) {
    const core::QueuedJob* h = queue.job(queue.holder(g));
    if (h == nullptr) continue;
    bool borrows = core::quota_verdict(quotas, h->owner, h->vram_mb * std::max(1, h->gpus),
                                       h->preemptible) == core::QuotaVerdict::borrows;
    (borrows ? holds.overridden : holds.respected).push_back(g);
  }
  return holds;
}

}  // namespace

void Orchestrator::reclaim(std::vector<core::GpuView>& views, const core::QuotaView& quotas) {
  std::int64_t now = now_ms();
  // True when a claimant was launched: the quotas this call was given no longer hold.
  auto start_claimant = [&] {
    bool queued = reclaimer_.claim() && queue_.contains(reclaimer_.claim()->claimant.id);
    auto start = reclaimer_.before_pass(queued, views, config_.vram_buffer_mb, now);
    if (!start) return false;
    // Its room is free: it starts now, on the GPUs reclaimed for it, ahead of the pass.
    std::optional<Job> job = queued_job(start->job);
    if (!job) return false;
    spdlog::info("job {}: starting on GPU {}, reclaimed for it", start->job,
                 fmt::join(start->gpus, ","));
    job->borrowed = false;
    launch(std::move(*job), start->gpus, 0);
    views = gpu_views();
    schedule_soon();  // the next claim, with quotas that count this start
    return true;
  };
  if (start_claimant() || reclaimer_.claim()) return;
  mark_borrowed(running_, active_, owners_);
  std::vector<core::ReclaimRun> runs;
  runs.reserve(running_.size());
  for (const auto& [id, r] : running_) {
    const Job& j = active_.at(id);
    runs.push_back({.job = id,
                    .owner = owners_.id(j.spec.owner),
                    .priority = j.spec.priority,
                    .started_at_ms = j.started_at_ms,
                    .gpus = j.gpus,
                    .vram_mb = r.reservation_mb,
                    .reclaimable = j.spec.preemptible && j.borrowed &&
                                   j.state == JobState::running &&
                                   r.stop_reason == EndReason::none});
  }
  core::Holds holds = holds_now(queue_, quotas, views.size());
  if (holds.overridden.empty() && std::ranges::none_of(runs, &core::ReclaimRun::reclaimable)) {
    return;
  }
  // Claimants: each owner's next job (FIFO within an owner), when it waits for room and its
  // owner's guarantee covers its start; in queue order.
  std::vector<core::QueuedJob> candidates;
  for (JobId id : queue_.owner_heads()) {
    const core::QueuedJob* q = queue_.job(id);
    std::optional<core::JobQueue::Place> place = queue_.place(id);
    if (q == nullptr || !place || !core::waits_for_room(place->reason)) continue;
    if (!owners_.guarantee(owners_.name_of(q->owner))) continue;
    if (core::quota_verdict(quotas, q->owner, q->vram_mb * std::max(1, q->gpus), false) !=
        core::QuotaVerdict::guaranteed) {
      continue;
    }
    candidates.push_back(*q);
  }
  std::optional<Reclaimer::Claim> claim =
      reclaimer_.make(candidates, views, config_.vram_buffer_mb, runs, holds, now);
  if (!claim) return;
  const std::string& claimant_owner = owners_.name_of(claim->claimant.owner);
  spdlog::info("job {} of {}: reclaiming GPU {} for it{}{}", claim->claimant.id, claimant_owner,
               fmt::join(claim->gpus, ","), claim->victims.empty() ? "" : " from job(s) ",
               fmt::join(claim->victims, ","));
  for (JobId v : claim->victims) {
    auto it = running_.find(v);
    if (it == running_.end()) continue;
    Job& job = active_.at(v);
    it->second.stop_detail =
        fmt::format("preempted: its VRAM was borrowed, and was taken back for job {} of {}",
                    claim->claimant.id, claimant_owner);
    // Stored before the signal: a server killed now finds it being preempted when it restarts.
    job.reason = EndReason::preempted;
    store_->save(job);
    publish_job(job);
    stop_job(v, EndReason::preempted);
  }
  if (claim->victims.empty()) start_claimant();  // its room was free, held for a borrower
}

std::map<std::string, Orchestrator::OwnerUse> Orchestrator::owner_use() const {
  std::map<std::string, OwnerUse> out;
  if (const auto& owners = owners_.owners()) {
    for (const core::Owner& o : owners->owners)
      out[o.name].quota_mb = o.limits.quota_mb;
  }
  for (const auto& [id, r] : running_) {
    const Job& j = active_.at(id);
    if (j.state != JobState::running) continue;
    std::int64_t mb = j.spec.vram_mb * std::max(1, j.spec.gpus);
    OwnerUse& u = out[j.spec.owner];
    u.reserved_mb += mb;
    ++u.running;
    if (j.borrowed) u.borrowed_mb += mb;
  }
  for (auto& [name, u] : out) {
    if (std::optional<std::uint32_t> id = owners_.find_id(name)) {
      u.queued = static_cast<std::int64_t>(queue_.count_of(*id) + waiting_.parked().count_of(*id));
    }
  }
  return out;
}

}  // namespace vramq::service
