// Reclaim in the scheduling pass (issue 24): the orchestrator's side of service::Reclaimer. It
// gathers what a claim needs from the live state (the head of the queue with its reasons, the
// running jobs with whether each is borrowed now), stops a new claim's victims, and starts a
// claimant whose room has come free.
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

// How far down the queue a claimant is looked for: jobs further back would not start before
// these anyway.
constexpr std::size_t kClaimantsLooked = 32;

bool waits_for_room(core::PendingReason r) {
  return r == core::PendingReason::vram || r == core::PendingReason::head_of_line ||
         r == core::PendingReason::priority || r == core::PendingReason::reclaiming;
}

}  // namespace

void Orchestrator::reclaim(std::vector<core::GpuView>& views, const core::QuotaView& quotas) {
  std::int64_t now = now_ms();
  bool queued = reclaimer_.claim() && queue_.contains(reclaimer_.claim()->claimant.id);
  if (auto start = reclaimer_.before_pass(queued, views, config_.vram_buffer_mb, now)) {
    // Its room is free: it starts now, on the GPUs reclaimed for it, ahead of the pass.
    if (std::optional<Job> job = queued_job(start->job)) {
      spdlog::info("job {}: starting on GPU {}, reclaimed for it", start->job,
                   fmt::join(start->gpus, ","));
      job->borrowed = false;
      launch(std::move(*job), start->gpus, 0);
      views = gpu_views();
    }
    return;
  }
  if (reclaimer_.claim()) return;
  // Which running jobs are borrowed now: per guarantee (an owner's own quota_mb, or its group's
  // pool), in start order, those past it.
  struct Held {
    std::vector<JobId> ids;
    std::vector<std::int64_t> mbs;
    std::vector<std::int64_t> started;
    std::int64_t mb = 0;
  };
  std::map<std::string, Held> by_holder;
  for (const auto& [id, r] : running_) {
    const Job& j = active_.at(id);
    if (std::optional<OwnerBook::Guarantee> g = owners_.guarantee(j.spec.owner)) {
      Held& h = by_holder[g->holder];
      h.ids.push_back(id);
      h.mbs.push_back(j.spec.vram_mb * std::max(1, j.spec.gpus));
      h.started.push_back(j.started_at_ms);
      h.mb = g->mb;
    } else {
      active_.at(id).borrowed = false;  // no guarantee: nothing to borrow beyond
    }
  }
  for (auto& [holder, h] : by_holder) {
    std::vector<bool> borrowed = core::borrowed_now(h.mb, h.mbs, h.started);
    for (std::size_t i = 0; i < h.ids.size(); ++i)
      active_.at(h.ids[i]).borrowed = borrowed[i];
  }
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
  if (std::ranges::none_of(runs, &core::ReclaimRun::reclaimable)) return;
  // Claimants: queued jobs waiting for room whose start their owner's guarantee covers.
  std::vector<core::QueuedJob> candidates;
  for (JobId id : queue_.head(kClaimantsLooked)) {
    const core::QueuedJob* q = queue_.job(id);
    std::optional<core::JobQueue::Place> place = queue_.place(id);
    if (q == nullptr || !place || !waits_for_room(place->reason)) continue;
    if (!owners_.guarantee(owners_.name_of(q->owner))) continue;
    if (core::quota_verdict(quotas, q->owner, q->vram_mb * std::max(1, q->gpus), false) !=
        core::QuotaVerdict::guaranteed) {
      continue;
    }
    candidates.push_back(*q);
  }
  std::optional<Reclaimer::Claim> claim =
      reclaimer_.make(candidates, views, config_.vram_buffer_mb, runs, now);
  if (!claim) return;
  const std::string& claimant_owner = owners_.name_of(claim->claimant.owner);
  spdlog::info("job {} of {}: reclaiming GPU {} for it from job(s) {}", claim->claimant.id,
               claimant_owner, fmt::join(claim->gpus, ","), fmt::join(claim->victims, ","));
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
}

}  // namespace vramq::service
