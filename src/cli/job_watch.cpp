#include "cli/job_watch.hpp"

#include <fmt/format.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <iostream>

#include "cli/live_line.hpp"
#include "cli/sse_reader.hpp"

namespace vramq::cli {
namespace json = boost::json;
namespace {

constexpr int kWaitChunkS = 3600;  // the server's longest long poll

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool terminal(const json::object& j) {
  const json::value* s = j.if_contains("state");
  return s != nullptr && s->is_string() && s->get_string() != "queued" &&
         s->get_string() != "running";
}

// Where the line goes: redrawn in place on a terminal, else a line per change.
class StatusLine {
 public:
  StatusLine() : tty_(::isatty(STDERR_FILENO) == 1) {}
  ~StatusLine() { clear(); }
  StatusLine(const StatusLine&) = delete;
  StatusLine& operator=(const StatusLine&) = delete;

  void show(const json::object& job) {
    if (terminal(job)) return;  // its end is told by the caller, with its output
    std::string line = live_line(job, now_ms());
    if (tty_) {
      winsize ws{};
      std::size_t cols =
          ::ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 ? ws.ws_col : 80;
      // Cut to the width (by bytes: the line is ASCII but for its separators) so that it never
      // wraps, which would leave a stale copy above on each redraw.
      if (line.size() >= cols) line.resize(cols - 1);
      std::cerr << "\r\x1b[K" << line << std::flush;
      drawn_ = true;
    } else if (std::string key = live_key(job); key != key_) {
      key_ = std::move(key);
      std::cerr << line << "\n" << std::flush;
    }
  }
  void clear() {
    if (drawn_) std::cerr << "\r\x1b[K" << std::flush;
    drawn_ = false;
  }

 private:
  bool tty_;
  bool drawn_ = false;
  std::string key_;
};

enum class StreamEnd { ended, reset, broken };

// Follows the job's events after `after` until it ends (`ended`), the stream resets, or it
// cannot be followed (no events kept, the connection broke).
StreamEnd follow(const ClientOptions& c, std::int64_t id, std::string_view after,
                 StatusLine& line) {
  auto url = parse_server_url(c.server);
  if (!url) return StreamEnd::broken;
  SseReader reader;
  std::optional<StreamEnd> end;
  auto sink = [&](std::string_view piece) {
    for (SseEvent& e : reader.feed(piece)) {
      if (e.type == "reset") {
        end = StreamEnd::reset;
        return false;
      }
      boost::system::error_code ec;
      json::value v = json::parse(e.data, ec);
      if (e.type != "job" || ec || !v.is_object()) continue;
      line.show(v.get_object());
      if (terminal(v.get_object())) {
        end = StreamEnd::ended;
        return false;
      }
    }
    return true;
  };
  // The server beats every 15 s (event_heartbeat_s): a minute of silence is a dead connection.
  auto r = http_request(*url, "GET", fmt::format("/v1/events?types=job&job={}&after={}", id, after),
                        {}, c.token, std::chrono::seconds(30), sink, {}, std::chrono::seconds(60));
  return end.value_or(StreamEnd::broken);
}

}  // namespace

std::optional<Reply> watch_job(const ClientOptions& c, std::int64_t id) {
  StatusLine line;
  bool stream = true;
  while (true) {
    // Long-polls once the stream is off: each answer is the job after up to kWaitChunkS.
    std::string target = stream ? fmt::format("/v1/jobs/{}", id)
                                : fmt::format("/v1/jobs/{}?wait={}", id, kWaitChunkS);
    auto r = call(c, "GET", target, {}, std::chrono::seconds(kWaitChunkS + 30));
    if (!r || r->status != 200 || !r->body.is_object()) {
      line.clear();
      return r;
    }
    const json::object& job = r->body.get_object();
    if (terminal(job)) {
      line.clear();
      return r;
    }
    line.show(job);
    if (!stream) continue;
    std::optional<std::string_view> after = r->header("Vramq-Event-Id");
    StreamEnd end = after ? follow(c, id, *after, line) : StreamEnd::broken;
    if (end == StreamEnd::broken) stream = false;
  }
}

}  // namespace vramq::cli
