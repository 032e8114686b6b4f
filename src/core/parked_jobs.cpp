#include "core/parked_jobs.hpp"

#include <iterator>

namespace vramq::core {

void ParkedJobs::park(JobId id, std::string record, PendingReason why, std::vector<JobId> ok,
                      std::vector<JobId> any, std::int64_t until_ms, std::uint32_t owner) {
  erase(id);
  Entry e{.record = std::move(record),
          .why = why,
          .ok = {ok.begin(), ok.end()},
          .any = {any.begin(), any.end()},
          .until_ms = until_ms,
          .owner = owner};
  ++owner_counts_[owner];
  for (JobId d : e.ok)
    dependents_.emplace(d, id);
  for (JobId d : e.any) {
    if (!e.ok.contains(d)) dependents_.emplace(d, id);
  }
  if (until_ms > 0) by_until_ms_.emplace(until_ms, id);
  jobs_.emplace(id, std::move(e));
}

const std::string* ParkedJobs::record(JobId id) const {
  auto it = jobs_.find(id);
  return it == jobs_.end() ? nullptr : &it->second.record;
}

PendingReason ParkedJobs::reason(JobId id) const {
  auto it = jobs_.find(id);
  return it == jobs_.end() ? PendingReason::none : it->second.why;
}

bool ParkedJobs::erase(JobId id) {
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return false;
  const Entry& e = it->second;
  auto unlink = [&](JobId dep) {
    auto [b, end] = dependents_.equal_range(dep);
    for (auto d = b; d != end; ++d) {
      if (d->second == id) {
        dependents_.erase(d);
        return;
      }
    }
  };
  for (JobId d : e.ok)
    unlink(d);
  for (JobId d : e.any) {
    if (!e.ok.contains(d)) unlink(d);
  }
  if (e.until_ms > 0) {
    auto [b, end] = by_until_ms_.equal_range(e.until_ms);
    for (auto d = b; d != end; ++d) {
      if (d->second == id) {
        by_until_ms_.erase(d);
        break;
      }
    }
  }
  if (auto c = owner_counts_.find(e.owner); --c->second == 0) owner_counts_.erase(c);
  jobs_.erase(it);
  return true;
}

ParkedJobs::Outcome ParkedJobs::on_end(JobId ended, bool succeeded) {
  Outcome out;
  auto [b, end] = dependents_.equal_range(ended);
  std::vector<JobId> waiting;
  for (auto d = b; d != end; ++d)
    waiting.push_back(d->second);
  dependents_.erase(b, end);
  for (JobId id : waiting) {
    auto it = jobs_.find(id);
    if (it == jobs_.end()) continue;
    Entry& e = it->second;
    bool doomed = e.ok.contains(ended) && !succeeded;
    e.ok.erase(ended);
    e.any.erase(ended);
    if (doomed) {
      Doomed d{.id = id, .because = ended, .record = std::move(e.record)};
      erase(id);
      out.doomed.push_back(std::move(d));
    } else if (e.ok.empty() && e.any.empty() && e.until_ms == 0) {
      Released r{.id = id, .record = std::move(e.record)};
      erase(id);
      out.released.push_back(std::move(r));
    }
  }
  return out;
}

std::vector<ParkedJobs::Released> ParkedJobs::due(std::int64_t now_ms) {
  std::vector<Released> out;
  std::vector<JobId> ids;
  for (auto it = by_until_ms_.begin(); it != by_until_ms_.end() && it->first <= now_ms; ++it)
    ids.push_back(it->second);
  for (JobId id : ids) {
    Entry& e = jobs_.at(id);
    e.until_ms = 0;
    // A delayed job has no unmet dependencies (it ran already); released either way once due.
    if (!e.ok.empty() || !e.any.empty()) continue;
    Released r{.id = id, .record = std::move(e.record)};
    erase(id);
    out.push_back(std::move(r));
  }
  std::erase_if(by_until_ms_, [&](const auto& kv) { return kv.first <= now_ms; });
  return out;
}

std::optional<std::int64_t> ParkedJobs::next_due_ms() const {
  if (by_until_ms_.empty()) return std::nullopt;
  return by_until_ms_.begin()->first;
}

std::vector<JobId> ParkedJobs::newest_before(JobId before, std::size_t limit) const {
  std::vector<JobId> out;
  auto it = before > 0 ? jobs_.lower_bound(before) : jobs_.end();
  while (it != jobs_.begin() && out.size() < limit) {
    --it;
    out.push_back(it->first);
  }
  return out;
}

}  // namespace vramq::core
