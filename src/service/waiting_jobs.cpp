// Jobs that are queued but may not start yet (see waiting_jobs.hpp).
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <algorithm>
#include <boost/asio/use_awaitable.hpp>

#include "core/job_record.hpp"
#include "core/run_outcome.hpp"
#include "service/waiting_jobs.hpp"

namespace vramq::service {
using core::EndReason;
using core::Job;
using core::JobId;
using core::JobState;

namespace {
constexpr std::int64_t kMaxRetryDelayMs = std::int64_t{24} * 3600 * 1000;

std::string failed_dependency(JobId because) {
  return fmt::format("job {} it had to wait for (after.ok) did not succeed; it never ran", because);
}
}  // namespace

std::int64_t WaitingJobs::retry_at_ms(const Job& job, std::int64_t now) {
  if (job.spec.retry_delay_s <= 0) return 0;
  // Attempt n + 1 follows attempt n after retry_delay_s x 2^(n - 1), at most a day.
  // Preempted runs are not failures: they do not lengthen it.
  int doublings = std::clamp(job.attempt - job.preemptions - 2, 0, 20);
  std::int64_t delay =
      std::min(kMaxRetryDelayMs, job.spec.retry_delay_s * 1000 * (std::int64_t{1} << doublings));
  return now + delay;
}

void WaitingJobs::park_delayed(const Job& job) {
  spdlog::info("job {}: attempt {} starts no earlier than in {} s", job.id, job.attempt,
               (job.not_before_ms - now_ms() + 999) / 1000);
  parked_.park(job.id, core::pack_job(job), core::PendingReason::retry_delay, {}, {},
               job.not_before_ms, d_.owner_id(job.spec.owner));
  d_.publish(job);
  arm();
}

std::int64_t WaitingJobs::host_failed_until_ms() {
  ++host_failures_;
  return now_ms() + core::host_failure_backoff_ms(host_failures_);
}

void WaitingJobs::park_unstarted(const Job& job) {
  parked_.park(job.id, core::pack_job(job), core::PendingReason::start_failed, {}, {},
               job.not_before_ms, d_.owner_id(job.spec.owner));
  d_.publish(job);
  arm();
}

void WaitingJobs::fail_parked(JobId id, std::string record, JobId because) {
  // Parked for a moment only so that the orchestrator ends it like any queued job (finish); it
  // cascades to the jobs that wait for this one.
  parked_.park(id, std::move(record), core::PendingReason::dependency, {}, {});
  d_.fail(id, failed_dependency(because));
}

void WaitingJobs::release(core::ParkedJobs::Released r) {
  auto job = core::unpack_job(r.record);
  if (!job) {  // only a bug could get here: records are made by pack_job in this process
    spdlog::critical("job {}: {}", r.id, job.error().message);
    return;
  }
  // Its wait for the backfill bound starts now, not when it was submitted.
  job->queued_at_ms = now_ms();
  job->not_before_ms = 0;
  d_.enqueue(*job);
}

void WaitingJobs::on_end(JobId id, bool succeeded) {
  core::ParkedJobs::Outcome out = parked_.on_end(id, succeeded);
  for (core::ParkedJobs::Released& r : out.released) {
    spdlog::info("job {}: the jobs it waited for have ended; queued", r.id);
    release(std::move(r));
  }
  for (core::ParkedJobs::Doomed& d : out.doomed) {
    fail_parked(d.id, std::move(d.record), d.because);
  }
}

void WaitingJobs::arm() {
  std::optional<std::int64_t> next = parked_.next_due_ms();
  if (!next) return;
  timer_.expires_after(std::chrono::milliseconds(std::max<std::int64_t>(0, *next - now_ms())));
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    for (core::ParkedJobs::Released& r : parked_.due(now_ms())) {
      spdlog::info("job {}: its retry delay is over; queued", r.id);
      release(std::move(r));
    }
    arm();
  });
}

boost::asio::awaitable<core::Result<WaitingJobs::Dependencies>> WaitingJobs::settle(
    std::vector<JobId> ok, std::vector<JobId> any) {
  std::map<JobId, std::optional<JobState>>
      stored_states;  // read from the store: final, never change
  while (true) {
    Dependencies out;
    std::vector<JobId> to_read;
    auto place = [&](JobId dep, bool must_succeed) {
      std::optional<JobState> state;
      if (!d_.ended(dep)) {
        (must_succeed ? out.ok : out.any).push_back(dep);
        return;
      }
      if (std::optional<JobState> s = d_.settling(dep)) {
        state = s;
      } else if (auto e = stored_states.find(dep); e != stored_states.end()) {
        if (!e->second) {
          out.unknown.push_back(dep);
          return;
        }
        state = e->second;
      } else {
        to_read.push_back(dep);
        return;
      }
      if (must_succeed && *state != JobState::succeeded && !out.failed) out.failed = dep;
    };
    for (JobId dep : ok)
      place(dep, true);
    for (JobId dep : any)
      place(dep, false);
    if (to_read.empty()) co_return out;  // nothing suspended since these answers were taken
    for (JobId dep : to_read) {
      auto stored = co_await d_.store.get(dep);
      if (!stored) co_return stored.error();
      if (*stored && !core::is_terminal((*stored)->state)) {
        // Durable as queued or running but no longer in memory: it ended in between; the next
        // round finds its end still settling, or reads its final row.
        continue;
      }
      stored_states[dep] = *stored ? std::optional((*stored)->state) : std::nullopt;
    }
  }
}

void WaitingJobs::place(const Job& job, const Dependencies& deps) {
  if (deps.failed || !deps.unknown.empty()) {
    fail_parked(job.id, core::pack_job(job), deps.failed ? *deps.failed : deps.unknown.front());
    return;
  }
  if (deps.ok.empty() && deps.any.empty()) {
    d_.enqueue(job);
    return;
  }
  parked_.park(job.id, core::pack_job(job), core::PendingReason::dependency, deps.ok, deps.any, 0,
               d_.owner_id(job.spec.owner));
  d_.publish(job);
}

bool WaitingJobs::has_live_dependency(const Job& job) const {
  auto live = [&](JobId dep) { return !d_.ended(dep); };
  return std::ranges::any_of(job.spec.after_ok, live) ||
         std::ranges::any_of(job.spec.after_any, live);
}

std::optional<JobState> WaitingJobs::recover(Job& job, const std::map<JobId, JobState>& recovered) {
  if (job.not_before_ms > now_ms()) {
    park_delayed(job);
    return std::nullopt;
  }
  std::vector<JobId> ok;
  std::vector<JobId> any;
  auto settle = [&](JobId dep, bool must_succeed) -> std::optional<JobId> {
    std::optional<JobState> state;
    if (auto it = recovered.find(dep); it != recovered.end()) {
      state = it->second;
    } else if (auto stored = d_.store.state_blocking(dep); stored && *stored) {
      state = **stored;
    } else {
      state = JobState::failed;  // gone (purged): it can no longer be waited for
    }
    if (!core::is_terminal(*state)) {
      (must_succeed ? ok : any).push_back(dep);
    } else if (must_succeed && *state != JobState::succeeded) {
      return dep;
    }
    return std::nullopt;
  };
  for (JobId dep : job.spec.after_ok) {
    if (auto failed = settle(dep, true)) {
      job.state = JobState::cancelled;
      job.reason = EndReason::dependency_failed;
      job.error = failed_dependency(*failed);
      job.finished_at_ms = now_ms();
      d_.store.save(job);
      return job.state;
    }
  }
  for (JobId dep : job.spec.after_any)
    settle(dep, false);
  if (ok.empty() && any.empty()) {
    d_.enqueue(job);
  } else {
    parked_.park(job.id, core::pack_job(job), core::PendingReason::dependency, std::move(ok),
                 std::move(any), 0, d_.owner_id(job.spec.owner));
  }
  return std::nullopt;
}

}  // namespace vramq::service
