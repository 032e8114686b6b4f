#include "core/event_ring.hpp"

#include <algorithm>
#include <array>

namespace vramq::core {

std::string_view to_string(EventType t) {
  constexpr std::array<std::string_view, 4> kNames = {"job", "gpu", "worker", "queue"};
  return kNames.at(static_cast<std::size_t>(t));
}

EventRing::EventRing(std::size_t capacity, std::size_t max_bytes, std::uint64_t first_id)
    : capacity_(std::max<std::size_t>(1, capacity)),
      max_bytes_(max_bytes),
      next_id_(std::max<std::uint64_t>(1, first_id)) {}

const std::string& Event::data() const {
  if (make) {
    made = make();
    make = nullptr;
  }
  return made;
}

std::uint64_t EventRing::publish(EventType type, JobId job, std::string data, std::string owner) {
  std::size_t size = data.size();
  return append({.id = 0,
                 .type = type,
                 .job = job,
                 .owner = std::move(owner),
                 .made = std::move(data),
                 .framed = {},
                 .framed_public = {},
                 .make = {},
                 .size = size});
}

std::uint64_t EventRing::publish_lazy(EventType type, JobId job, std::function<std::string()> make,
                                      std::size_t estimate, std::string owner) {
  return append({.id = 0,
                 .type = type,
                 .job = job,
                 .owner = std::move(owner),
                 .made = {},
                 .framed = {},
                 .framed_public = {},
                 .make = std::move(make),
                 .size = estimate});
}

void EventRing::account(const Event& e) {
  if (events_.empty() || e.id < events_.front().id || e.id > last_id()) return;
  Event& held = events_[static_cast<std::size_t>(e.id - events_.front().id)];
  std::size_t real = held.made.size() + held.framed.size() + held.framed_public.size() + 64;
  if (held.make) real += held.size;  // its payload is still to come: keep the estimate for it
  bytes_ = bytes_ - held.size + real;
  held.size = real;
}

std::uint64_t EventRing::append(Event e) {
  // Held twice once read (the payload and its framing), with its id and type: counted so up
  // front, so that the bound holds whatever is read.
  e.size = 2 * e.size + 64;
  bytes_ += e.size;
  while (!events_.empty() && (events_.size() == capacity_ || bytes_ > max_bytes_)) {
    bytes_ -= events_.front().size;
    events_.pop_front();
  }
  e.id = next_id_++;
  events_.push_back(std::move(e));
  return events_.back().id;
}

EventRing::Read EventRing::read(std::uint64_t after, std::size_t max,
                                const std::function<bool(const Event&)>& keep) const {
  Read out{.events = {}, .reset = false, .last_seen = after};
  if (after > last_id()) {  // ids this ring never gave: another server's, before a restart
    out.reset = true;
    out.last_seen = last_id();
    return out;
  }
  std::uint64_t first = events_.empty() ? next_id_ : events_.front().id;
  if (after + 1 < first) out.reset = true;  // the events in between are gone
  // Consecutive ids: the first event after `after` is found by arithmetic, not a search.
  std::size_t at = after + 1 <= first ? 0 : static_cast<std::size_t>(after + 1 - first);
  for (; at < events_.size() && out.events.size() < max; ++at) {
    const Event& e = events_[at];
    out.last_seen = e.id;
    if (!keep || keep(e)) out.events.push_back(&e);
  }
  return out;
}

}  // namespace vramq::core
