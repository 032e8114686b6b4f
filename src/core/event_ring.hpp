#pragma once
// The server's one stream of events (issue 13): every state change is published once, with an id
// that only grows, into a bounded ring. Readers (GET /v1/events) ask for what came after the last
// id they saw and get exactly the missed events, or `reset` when some of them have already
// fallen out of the ring (then they start again from a fresh view). Publishing is an append and,
// once the ring is full, the drop of its oldest event: no reader can slow it down or make it
// grow. Pure data structure, no I/O; the event's payload is opaque text (JSON, made by the
// publisher). Not thread-safe: the orchestrator's loop owns it.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/job.hpp"

namespace vramq::core {

enum class EventType { job, gpu, worker, queue };
std::string_view to_string(EventType t);

struct Event {
  std::uint64_t id = 0;  // 1, 2, 3, ... in publishing order
  EventType type = EventType::job;
  JobId job = 0;      // job events: the job (for ?job= filters); else 0
  std::string owner;  // job events: the job's owner (who may read its details); else ""
  // The payload; one published lazily is made on first use (then kept): an event nobody reads
  // costs no encoding.
  const std::string& data() const;

  mutable std::string made;
  // What the stream's framing made of it (GET /v1/events): made once, whoever reads it first;
  // every listener then copies these bytes.
  mutable std::string framed;
  // The same for a reader who sees the job as a listing shows it (private jobs, issue 24).
  mutable std::string framed_public;
  mutable std::function<std::string()> make;  // set until made
  std::size_t size = 0;  // what it counts against the ring's bytes (from an estimate until made)
};

class EventRing {
 public:
  // At most `capacity` events and `max_bytes` of memory for them, each counted as twice its
  // payload (the payload and its framed copy) plus 64 bytes (the newest event is always kept).
  // Ids begin at `first_id`: a server starts above any id its predecessor could have given
  // (serve.cpp), so that a reader's id from before a restart is never taken for a new one.
  explicit EventRing(std::size_t capacity, std::size_t max_bytes = SIZE_MAX,
                     std::uint64_t first_id = 1);

  // Appends an event; returns its id. The oldest events go to stay within the bounds.
  std::uint64_t publish(EventType type, JobId job, std::string data, std::string owner = {});
  // The same with a payload made only when first read; `estimate` stands for its size meanwhile.
  std::uint64_t publish_lazy(EventType type, JobId job, std::function<std::string()> make,
                             std::size_t estimate, std::string owner = {});

  // The id of the newest event (first_id - 1: none yet).
  std::uint64_t last_id() const { return next_id_ - 1; }
  std::size_t size() const { return events_.size(); }
  // A held event's payload or framing was just made: it counts its real size from now on (the
  // next publish evicts what no longer fits; nothing is evicted here, under a reader's feet).
  void account(const Event& e);
  std::size_t bytes() const { return bytes_; }

  struct Read {
    std::vector<const Event*> events;  // oldest first; valid until the next publish
    bool reset = false;           // events after `after` were dropped: the reader has missed some
    std::uint64_t last_seen = 0;  // pass as `after` next time (the newest event looked at)
  };
  // Events with an id above `after` that `keep` accepts (all when empty), oldest first, at most
  // `max` of them. An `after` above last_id() (a reader from before a restart) is a reset.
  Read read(std::uint64_t after, std::size_t max,
            const std::function<bool(const Event&)>& keep = {}) const;

 private:
  std::uint64_t append(Event e);
  std::size_t capacity_;
  std::size_t max_bytes_;
  std::size_t bytes_ = 0;     // of the held events' data
  std::deque<Event> events_;  // ids first_id() .. last_id(), consecutive
  std::uint64_t next_id_ = 1;
};

}  // namespace vramq::core
