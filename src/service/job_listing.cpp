// The Orchestrator's job listing (GET /v1/jobs): live jobs from memory (running, settling,
// queued, parked), ended ones from the store, merged newest first, filtered by state, name,
// label and owner, one page at a time.
#include <algorithm>
#include <boost/asio/use_awaitable.hpp>
#include <set>

#include "service/orchestrator.hpp"

namespace vramq::service {
namespace asio = boost::asio;
using core::Job;
using core::JobId;
using core::JobState;

namespace {

// With a filter, memory is searched job by job (queued jobs are unpacked): at most this many
// per request, so that a page never costs the loop more than a few milliseconds. A search that
// stops early returns a shorter page whose `next` resumes where it stopped.
constexpr std::size_t kFilterBudget = 20'000;

bool matches(const Job& j, const ListFilter& f) {
  if (std::ranges::find(f.states, j.state) == f.states.end()) return false;
  if (!f.name.empty() && j.spec.name != f.name) return false;
  if (!f.owner.empty() && j.spec.owner != f.owner) return false;
  if (f.label && std::ranges::find(j.spec.labels, *f.label) == j.spec.labels.end()) return false;
  return true;
}

bool filtered(const ListFilter& f) {
  return !f.name.empty() || !f.owner.empty() || f.label.has_value();
}

}  // namespace

asio::awaitable<core::Result<ListResult>> Orchestrator::list(ListFilter filter, JobId before,
                                                             int limit) {
  auto in_page = [&](JobId id) { return before <= 0 || id < before; };
  std::vector<JobView> live;
  for (const auto* jobs : {&active_, &ending_.settling}) {
    for (const auto& [id, j] : *jobs) {
      if (in_page(id) && matches(j, filter)) live.push_back(view(j));
    }
  }
  JobId floor = 0;  // with a filter: the lowest id searched in memory, if the budget ran out
  if (std::ranges::find(filter.states, JobState::queued) != filter.states.end()) {
    // Straight from the id indexes: without a filter only the page asked for is unpacked.
    std::size_t want = filtered(filter) ? kFilterBudget : static_cast<std::size_t>(limit) + 1;
    for (const auto& ids :
         {queue_.newest_before(before, want), waiting_.parked().newest_before(before, want)}) {
      for (JobId q : ids) {
        if (auto j = queued_job(q); j && matches(*j, filter)) live.push_back(view(*j));
      }
      if (filtered(filter) && ids.size() == want) floor = std::max(floor, ids.back());
    }
  }
  store::Store::ListQuery q{.states = {},
                            .before = before,
                            .limit = limit + 1,
                            .at_least = floor,
                            .name = filter.name,
                            .owner = filter.owner,
                            .label = filter.label};
  for (JobState s : filter.states) {
    if (core::is_terminal(s)) q.states.push_back(s);
  }
  auto stored = co_await store_->list(std::move(q));
  if (!stored) co_return stored.error();
  // Memory is newer than the store: rows of jobs taken from memory before the read (they may
  // have become durable during it) or back in memory now (a retry) are skipped.
  std::set<JobId> from_memory;
  for (const JobView& v : live)
    from_memory.insert(v.job.id);
  for (Job& j : *stored) {
    if (!from_memory.contains(j.id) && !active_.contains(j.id) && !queue_.contains(j.id) &&
        !waiting_.parked().contains(j.id)) {
      live.push_back(view(j));
    }
  }
  std::erase_if(live, [&](const JobView& v) { return v.job.id < floor; });
  std::ranges::sort(live, std::greater<>{}, [](const JobView& v) { return v.job.id; });
  ListResult out;
  if (static_cast<int>(live.size()) > limit) {
    live.resize(static_cast<std::size_t>(limit));
    out.next = live.back().job.id;
  } else if (floor > 0) {
    out.next = floor;  // the search stopped there: the next page goes on below it
  }
  out.jobs = std::move(live);
  co_return out;
}

}  // namespace vramq::service
