#pragma once
// The orchestrator's side of GET /v1/events (issue 13): the ring every state change is published
// into, the encoders that turn a view into its API JSON (given by the API layer, which owns the
// wire shapes), what was last published per GPU and per worker (so that a reading which changes
// nothing publishes nothing), and the listeners asleep until the next event.
// Publishing is an encode and an append; with listeners asleep it also posts one wake-up,
// however many events follow before it runs. Thread safety: loop only.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/event_ring.hpp"
#include "service/views.hpp"

namespace vramq::service {

class EventFeed {
 public:
  struct Encoders {
    std::function<std::string(const JobView&)> job;
    std::function<std::string(const GpuStatus&)> gpu;
    std::function<std::string(const WorkerStatus&)> worker;
    std::function<std::string(const QueueHead&)> queue;
  };
  // `capacity` 0: no events are kept (GET /v1/events is off). `first_id`: see core::EventRing.
  EventFeed(boost::asio::io_context& ioc, std::size_t capacity, std::size_t max_bytes,
            std::uint64_t first_id);
  EventFeed(const EventFeed&) = delete;
  EventFeed& operator=(const EventFeed&) = delete;

  void set_encoders(Encoders encoders) { encoders_ = std::move(encoders); }
  // False without a ring or encoders: publishing does nothing.
  bool enabled() const { return capacity_ > 0 && encoders_.job; }

  void job(JobView v);
  // A job event whose payload `make` encodes when first read (the hot path of submits: the
  // caller keeps what it needs cheaply, e.g. the queue's packed record).
  void job_lazy(core::JobId id, std::string owner, std::function<std::string()> make,
                std::size_t estimate);
  const Encoders& encoders() const { return encoders_; }
  // GPU and worker items are published only when they differ from the last one published for
  // the same GPU or worker (times that only tick, like a worker's keep-alive, are not compared).
  void gpu(const GpuStatus& g);
  void worker(const WorkerStatus& w);
  // The worker has gone: its last status, marked exited.
  void worker_gone(WorkerStatus last);
  void queue(const QueueHead& q);

  // Resets sent to listeners (vramq_event_resets_total): `behind`, a connected listener fell a
  // whole ring behind; `gone`, one resumed from an id the ring no longer keeps (or an earlier
  // server's). Many of either say the ring is too small for its listeners.
  struct Resets {
    std::uint64_t behind = 0;
    std::uint64_t gone = 0;
  };
  void count_reset(bool behind) { ++(behind ? resets_.behind : resets_.gone); }
  const Resets& resets() const { return resets_; }

  const core::EventRing& ring() const { return ring_; }
  core::EventRing& ring() { return ring_; }  // a reader accounts what it made (framing)
  // Returns at once when an event newer than `seen` exists, else at the next publish or after
  // `timeout`.
  boost::asio::awaitable<void> wait(std::uint64_t seen, std::chrono::milliseconds timeout);

 private:
  void publish(core::EventType type, core::JobId job, std::string data);
  void wake();  // listeners asleep read what was published

  boost::asio::io_context& ioc_;
  std::size_t capacity_;
  core::EventRing ring_;
  Resets resets_;
  Encoders encoders_;
  // What the last published item showed, in the fields that matter to a viewer.
  struct GpuSignature {
    std::int64_t used_mb, reserved_mb, committed_mb, foreign_mb, available_mb;
    bool known;
    std::vector<core::JobId> jobs;
    std::vector<core::WorkerId> workers;
    std::size_t foreign_processes;
    bool operator==(const GpuSignature&) const = default;
  };
  struct WorkerSignature {
    core::WorkerState state;
    std::int64_t resident_mb;
    std::optional<std::int64_t> measured_mb;
    std::int64_t runs;
    core::JobId job;
    bool operator==(const WorkerSignature&) const = default;
  };
  std::map<int, GpuSignature> gpus_;
  std::map<core::WorkerId, WorkerSignature> workers_;
  std::vector<std::shared_ptr<boost::asio::steady_timer>> waiters_;
  bool wake_posted_ = false;
};

}  // namespace vramq::service
