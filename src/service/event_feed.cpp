#include "service/event_feed.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdlib>

namespace vramq::service {
namespace asio = boost::asio;

EventFeed::EventFeed(asio::io_context& ioc, std::size_t capacity, std::size_t max_bytes,
                     std::uint64_t first_id)
    : ioc_(ioc), capacity_(capacity), ring_(capacity, max_bytes, first_id) {}

void EventFeed::job(JobView v) {
  if (!enabled()) return;
  // Encoded only if a listener reads it, from the view kept in the closure (one allocation;
  // without the output and the environment: values may be secrets, and the item shows neither).
  v.job.output.clear();
  v.job.output.shrink_to_fit();
  v.job.spec.env.clear();
  std::size_t estimate = 600 + v.job.spec.params_json.size() + v.job.spec.name.size() +
                         v.job.error.size() + v.job_dir.size();
  for (const std::string& a : v.job.spec.argv)
    estimate += a.size() + 3;
  for (const std::string& w : v.job.warnings)
    estimate += w.size() + 3;
  for (const auto& [k, val] : v.job.spec.labels)
    estimate += k.size() + val.size() + 6;
  core::JobId id = v.job.id;
  std::string owner = v.job.spec.owner;
  ring_.publish_lazy(
      core::EventType::job, id, [this, v = std::move(v)] { return encoders_.job(v); }, estimate,
      std::move(owner));
  wake();
}

void EventFeed::job_lazy(core::JobId id, std::string owner, std::function<std::string()> make,
                         std::size_t estimate) {
  if (!enabled()) return;
  ring_.publish_lazy(core::EventType::job, id, std::move(make), estimate, std::move(owner));
  wake();
}

void EventFeed::gpu(const GpuStatus& g) {
  if (!enabled()) return;
  GpuSignature now{.used_mb = g.info.used_mb,
                   .reserved_mb = g.reserved_mb,
                   .committed_mb = g.committed_mb,
                   .foreign_mb = g.info.foreign_mb,
                   .available_mb = g.available_mb,
                   .known = g.known,
                   .jobs = g.jobs,
                   .workers = g.workers,
                   .foreign_processes = g.info.foreign_processes.size()};
  auto [it, fresh] = gpus_.try_emplace(g.info.index, now);
  if (!fresh) {
    // A driver's reading moves by a few MiB all the time: only a move of 64 MiB is news.
    GpuSignature was = it->second;
    if (std::abs(was.used_mb - now.used_mb) < 64) was.used_mb = now.used_mb;
    if (std::abs(was.foreign_mb - now.foreign_mb) < 64) was.foreign_mb = now.foreign_mb;
    if (std::abs(was.available_mb - now.available_mb) < 64) was.available_mb = now.available_mb;
    if (was == now) return;
  }
  it->second = std::move(now);
  publish(core::EventType::gpu, 0, encoders_.gpu(g));
}

void EventFeed::worker(const WorkerStatus& w) {
  if (!enabled()) return;
  WorkerSignature now{.state = w.state,
                      .resident_mb = w.resident_mb,
                      .measured_mb = w.measured_mb,
                      .runs = w.runs,
                      .job = w.job};
  auto [it, fresh] = workers_.try_emplace(w.id, now);
  if (!fresh && it->second == now) return;
  it->second = now;
  publish(core::EventType::worker, 0, encoders_.worker(w));
}

void EventFeed::worker_gone(WorkerStatus last) {
  workers_.erase(last.id);
  if (!enabled()) return;
  last.exited = true;
  publish(core::EventType::worker, 0, encoders_.worker(last));
}

void EventFeed::queue(const QueueHead& q) {
  if (enabled()) publish(core::EventType::queue, 0, encoders_.queue(q));
}

void EventFeed::publish(core::EventType type, core::JobId job, std::string data) {
  ring_.publish(type, job, std::move(data));
  wake();
}

void EventFeed::wake() {
  if (waiters_.empty() || wake_posted_) return;
  // One wake-up for a burst: listeners read everything published before it runs.
  wake_posted_ = true;
  asio::post(ioc_, [this] {
    wake_posted_ = false;
    for (const auto& t : waiters_)
      t->cancel();
    waiters_.clear();
  });
}

asio::awaitable<void> EventFeed::wait(std::uint64_t seen, std::chrono::milliseconds timeout) {
  if (ring_.last_id() != seen) co_return;
  auto timer = std::make_shared<asio::steady_timer>(ioc_, timeout);
  waiters_.push_back(timer);
  co_await timer->async_wait(asio::as_tuple(asio::use_awaitable));
  std::erase(waiters_, timer);  // still there after a timeout or a client's hang-up
}

}  // namespace vramq::service
