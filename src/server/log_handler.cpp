// GET /v1/jobs/{id}/log?stream=stdout|stderr&follow=1&attempt=N: a job's log as text/plain,
// streamed in pieces (memory stays bounded however large the file); with follow=1 the answer stays
// open and sends what the job writes until it ends.
#include <fmt/format.h>

#include "server/problem.hpp"
#include "server/query_params.hpp"
#include "server/router.hpp"
#include "server/visibility.hpp"

namespace vramq::server {
namespace {

constexpr std::size_t kPiece = 64 << 10;
// With inotify a follower wakes on every write; this is only the fallback poll without it.
constexpr std::chrono::seconds kFollowPoll{2};

// Reads one attempt's log (`attempt` fixed), or follows the job's current attempt across its
// retries: when the attempt it reads is retried, its file is renamed to attempt-N.*.log; the
// stream finishes that file and goes on with the new attempt's from its start.
class LogStream final : public BodyStream {
 public:
  // `current`: the job's attempt when the request came (its last one, once it has ended).
  LogStream(service::Orchestrator& o, core::JobId id, std::string stream, bool follow, int attempt,
            bool fixed, int current, std::unique_ptr<HeldRequests::Ticket> ticket)
      : ticket_(std::move(ticket)),
        o_(o),
        id_(id),
        stream_(std::move(stream)),
        follow_(follow),
        attempt_(attempt),
        fixed_(fixed),
        last_current_(current) {}

  bool may_wait() const override { return follow_; }

  boost::asio::awaitable<std::string> next() override {
    while (!done_) {
      std::uint64_t seen = o_.files().log_generation(id_);
      bool ended = o_.ended(id_);  // read before reading: the end's last bytes are then read
      int current = o_.attempt_of(id_).value_or(last_current_);
      last_current_ = current;
      bool earlier = attempt_ < current;
      std::string piece = co_await o_.files().read_log(
          id_, stream_, offset_, kPiece, earlier ? std::optional(attempt_) : std::nullopt);
      if (!piece.empty()) {
        offset_ += static_cast<std::int64_t>(piece.size());
        co_return piece;
      }
      if (earlier) {
        if (fixed_) break;   // an earlier attempt's log is whole: nothing more will come
        attempt_ = current;  // its retry began: go on with the new attempt's log
        offset_ = 0;
        continue;
      }
      if (!follow_ || ended) break;
      co_await o_.files().wait_log(id_, seen, kFollowPoll);
    }
    done_ = true;
    co_return std::string();
  }

 private:
  std::unique_ptr<HeldRequests::Ticket> ticket_;  // a follower's place, while it streams
  service::Orchestrator& o_;
  core::JobId id_;
  std::string stream_;
  bool follow_;
  int attempt_;
  bool fixed_;
  int last_current_;
  std::int64_t offset_ = 0;
  bool done_ = false;
};

}  // namespace

boost::asio::awaitable<Response> handle_log(const Request& req, core::JobId id,
                                            service::Orchestrator& o, HeldRequests& held) {
  std::string stream(req.query_param("stream").value_or("stdout"));
  if (stream != "stdout" && stream != "stderr") {
    co_return problem(Problem::bad_request,
                      fmt::format("stream must be stdout or stderr, got '{}'", stream), "stream");
  }
  auto follow = bool_param(req, "follow", false);
  if (!follow) co_return follow.error();
  auto found = co_await o.get(id);
  if (!found) co_return problem(Problem::internal, found.error().message);
  if (!*found) co_return problem(Problem::not_found, fmt::format("no job {}", id), "id");
  if (!reads_all_of(req, (*found)->job.spec.owner, o.config())) {
    co_return private_job((*found)->job, "logs");
  }
  int current = (*found)->job.attempt;
  auto attempt = int_param(req, "attempt", 1, current, current);
  if (!attempt) co_return attempt.error();
  std::unique_ptr<HeldRequests::Ticket> ticket;
  if (*follow && !core::is_terminal((*found)->job.state)) {
    HeldRequests::Taken place = held.take(id, req.principal);
    if (!place.ticket) co_return held_refused(*place.refusal, held.limits(), id);
    ticket = std::move(place.ticket);
  }
  co_return Response{.status = 200,
                     .content_type = "text/plain; charset=utf-8",
                     .body = {},
                     .headers = {{"Cache-Control", "no-store"}},
                     .stream = std::make_shared<LogStream>(
                         o, id, stream, *follow, static_cast<int>(*attempt),
                         req.query_param("attempt").has_value(), current, std::move(ticket))};
}

}  // namespace vramq::server
