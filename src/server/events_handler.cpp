// GET /v1/events: the server's event stream as Server-Sent Events (issue 13). A listener starts
// at the newest event (or after the id it resumes from) and reads the ring at its own pace: the
// ring is the only buffer, shared by every listener, so a listener costs a socket, a coroutine
// and a small send buffer however much happens. One that falls more than the ring behind while
// connected is too slow: it gets `reset` and its stream ends (a write that stays blocked for
// --http-timeout-s ends it too); it reconnects from a fresh view.
#include <fmt/format.h>

#include <boost/json/serialize.hpp>
#include <limits>

#include "server/json_codec.hpp"
#include "server/problem.hpp"
#include "server/query_params.hpp"
#include "server/router.hpp"
#include "server/sse.hpp"
#include "server/visibility.hpp"

namespace vramq::server {
namespace {

constexpr std::size_t kBatchEvents = 256;
constexpr std::size_t kBatchBytes = 64 << 10;
// The kernel's buffer for the stream's socket: what a stalled listener can hold up in the
// server beyond the ring.
constexpr int kSendBufferBytes = 64 << 10;

struct Filter {
  unsigned types = ~0U;  // bit per core::EventType
  core::JobId job = 0;   // set: that job's job events only
  bool keeps(const core::Event& e) const {
    if ((types & (1U << static_cast<unsigned>(e.type))) == 0) return false;
    return job == 0 || (e.type == core::EventType::job && e.job == job);
  }
};

std::string reset_event(std::uint64_t id, std::string_view why) {
  return sse_event(id, "reset",
                   boost::json::serialize(boost::json::object{{"reason", why}, {"last_id", id}}));
}

// Whose jobs' details a listener reads (server/visibility.hpp); of others' jobs it gets the
// redacted item, framed once per event for all such listeners.
struct Reader {
  std::string principal;
  bool all = true;
  bool reads_all(const core::Event& e) const {
    return all || e.type != core::EventType::job || e.owner == principal;
  }
};

class EventStream final : public BodyStream {
 public:
  EventStream(service::Orchestrator& o, std::uint64_t after, Filter filter, Reader reader,
              std::chrono::steady_clock::duration heartbeat,
              std::unique_ptr<HeldRequests::Ticket> ticket)
      : ticket_(std::move(ticket)),
        o_(o),
        after_(after),
        filter_(filter),
        reader_(std::move(reader)),
        heartbeat_(heartbeat) {}

  bool may_wait() const override { return true; }
  int send_buffer_bytes() const override { return kSendBufferBytes; }

  boost::asio::awaitable<std::string> next() override {
    if (done_) co_return std::string();
    auto keep = [this](const core::Event& e) { return filter_.keeps(e); };
    for (;;) {
      const core::EventRing& ring = o_.events().ring();
      core::EventRing::Read r = ring.read(after_, kBatchEvents, keep);
      if (r.reset) {
        // Missed events: the listener starts again from now (a fresh view, then what follows).
        after_ = ring.last_id();
        o_.events().count_reset(streaming_);
        if (streaming_) {
          done_ = true;
          co_return sent(reset_event(after_, "this listener fell behind the server's event ring"));
        }
        streaming_ = true;
        co_return sent(reset_event(after_, "the events after the id given are no longer kept"));
      }
      streaming_ = true;
      std::string out;
      std::uint64_t upto = r.last_seen;  // the batch ends early when it is full
      for (const core::Event* e : r.events) {
        out += framing(*e);
        if (out.size() >= kBatchBytes) {
          upto = e->id;
          break;
        }
      }
      after_ = upto;
      // (`out` is a new string on every pass of the loop: the analyzer's "moved twice" is not.)
      if (!out.empty()) co_return sent(std::move(out));  // NOLINT(clang-analyzer-cplusplus.Move)
      if (after_ < ring.last_id()) continue;             // all it looked at was filtered out
      // Nothing for this listener: sleep until the next event, or the heartbeat (counted from
      // its last write, so that a stream whose events are all filtered out still beats).
      auto quiet = std::chrono::steady_clock::now() - last_write_;
      if (quiet >= heartbeat_) co_return sent(sse_heartbeat());
      co_await o_.events().wait(after_,
                                std::chrono::ceil<std::chrono::milliseconds>(heartbeat_ - quiet));
    }
  }

 private:
  std::unique_ptr<HeldRequests::Ticket> ticket_;  // its place among its owner's held requests
  service::Orchestrator& o_;
  std::uint64_t after_;
  Filter filter_;
  Reader reader_;
  std::chrono::steady_clock::duration heartbeat_;
  std::chrono::steady_clock::time_point last_write_ = std::chrono::steady_clock::now();
  bool streaming_ = false;
  bool done_ = false;

  const std::string& framing(const core::Event& e) {
    if (reader_.reads_all(e)) {
      if (e.framed.empty()) {
        e.framed = sse_event(e.id, core::to_string(e.type), e.data());
        o_.events().ring().account(e);
      }
      return e.framed;
    }
    if (e.framed_public.empty()) {
      e.framed_public = sse_event(e.id, core::to_string(e.type), redacted_job_text(e.data()));
      o_.events().ring().account(e);
    }
    return e.framed_public;
  }

  std::string sent(std::string piece) {
    last_write_ = std::chrono::steady_clock::now();
    return piece;
  }
};

}  // namespace

boost::asio::awaitable<Response> handle_events(const Request& req, service::Orchestrator& o,
                                               HeldRequests& held) {
  if (!o.events().enabled()) {
    co_return problem(Problem::unavailable,
                      "this server keeps no events (event_ring_size = 0): GET /v1/events is off");
  }
  ResumeId resume = parse_resume_id(req.header("last-event-id"), req.query_param("after"));
  if (!resume.error.empty()) {
    co_return problem(Problem::bad_request, resume.error,
                      req.header("last-event-id") ? "Last-Event-ID" : "after");
  }
  Filter filter;
  if (auto types = req.query_param("types")) {
    filter.types = 0;
    std::string_view rest = *types;
    while (!rest.empty()) {
      std::size_t comma = rest.find(',');
      std::string_view name = rest.substr(0, comma);
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      bool known = false;
      for (auto t : {core::EventType::job, core::EventType::gpu, core::EventType::worker,
                     core::EventType::queue}) {
        if (name == core::to_string(t)) {
          filter.types |= 1U << static_cast<unsigned>(t);
          known = true;
        }
      }
      if (!known) {
        co_return problem(
            Problem::bad_request,
            fmt::format("types: unknown event type '{:.40}' (job, gpu, worker, queue)", name),
            "types");
      }
    }
  }
  if (req.query_param("job")) {
    auto job = int_param(req, "job", 1, std::numeric_limits<std::int64_t>::max(), 0);
    if (!job) co_return job.error();
    filter.job = *job;
  }
  HeldRequests::Taken place = held.take(0, req.principal);
  if (!place.ticket) co_return held_refused(*place.refusal, held.limits(), 0);
  std::uint64_t after = resume.after.value_or(o.events().ring().last_id());
  co_return Response{
      .status = 200,
      .content_type = "text/event-stream",
      .body = {},
      .headers = {{"Cache-Control", "no-store"}, {"X-Accel-Buffering", "no"}},
      .stream = std::make_shared<EventStream>(
          o, after, filter,
          Reader{.principal = req.principal, .all = reads_every_job(req, o.config())},
          std::chrono::seconds(o.config().event_heartbeat_s), std::move(place.ticket))};
}

}  // namespace vramq::server
