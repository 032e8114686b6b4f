#include "cli/top.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <fmt/format.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "cli/http_client.hpp"
#include "cli/sse_reader.hpp"
#include "cli/top_view.hpp"

namespace vramq::cli {
namespace json = boost::json;
namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The self-pipe that wakes the screen's loop: written by the stream's thread on each event and
// by the signal handlers (write(2) is async-signal-safe).
int g_wake_write = -1;
std::atomic<int> g_signal{0};

void on_signal(int sig) {
  g_signal.store(sig);
  char b = 's';
  [[maybe_unused]] auto n = ::write(g_wake_write, &b, 1);
}

// What the stream's thread and the screen share.
struct Shared {
  std::mutex mu;
  TopModel model;                     // guarded by mu
  std::string status = "connecting";  // guarded by mu
  std::atomic<bool> quit{false};
  int wake_write = -1;
  ClientOptions client;
  ServerUrl url;

  void wake() const {
    char b = 'e';
    [[maybe_unused]] auto n = ::write(wake_write, &b, 1);
  }
};

std::optional<json::object> get_object(const Shared& s, std::string_view target,
                                       std::optional<std::uint64_t>& event_id, std::string& error) {
  auto r = http_request(s.url, "GET", target, {}, s.client.token, std::chrono::seconds(10));
  if (!r) {
    error = r.error().message;
    return std::nullopt;
  }
  boost::system::error_code ec;
  json::value v = json::parse(r->body, ec);
  if (r->status != 200 || ec || !v.is_object()) {
    error = fmt::format("GET {} answered {}", target, r->status);
    return std::nullopt;
  }
  bool has_id = false;
  for (const auto& [k, val] : r->headers) {
    if (strcasecmp(k.c_str(), "Vramq-Event-Id") == 0) {
      std::uint64_t id = std::strtoull(val.c_str(), nullptr, 10);
      event_id = event_id ? std::min(*event_id, id) : id;
      has_id = true;
    }
  }
  if (!has_id) {
    error = fmt::format("GET {} gave no event id: the server keeps no events", target);
    return std::nullopt;
  }
  return std::move(v.as_object());
}

// An array member of an answer (empty when the answer is not what it should be).
const json::array& array_of(const json::object& o, std::string_view key) {
  static const json::array kNone;
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_array() ? v->get_array() : kNone;
}

// A fresh view; returns the event id to follow after (nullopt: the server could not be read).
std::optional<std::uint64_t> snapshot(Shared& s, std::string& error) {
  std::optional<std::uint64_t> event_id;
  auto gpus = get_object(s, "/v1/gpus", event_id, error);
  auto running =
      gpus ? get_object(s, "/v1/jobs?state=running&limit=200", event_id, error) : std::nullopt;
  auto queue = running ? get_object(s, "/v1/queue", event_id, error) : std::nullopt;
  auto workers = queue ? get_object(s, "/v1/workers", event_id, error) : std::nullopt;
  if (!workers) return std::nullopt;
  TopModel m;
  for (const json::value& g : array_of(*gpus, "gpus")) {
    if (g.is_object()) m.apply("gpu", g.get_object());
  }
  for (const json::value& j : array_of(*running, "jobs")) {
    if (j.is_object()) m.apply("job", j.get_object());
  }
  m.apply("queue", *queue);
  for (const json::value& w : array_of(*workers, "workers")) {
    if (w.is_object()) m.apply("worker", w.get_object());
  }
  std::lock_guard lock(s.mu);
  s.model = std::move(m);
  return event_id.value_or(0);
}

// The stream's thread: a view, then its events, again after a reset or a lost connection (a
// second of pause before each new try, so that a server that resets at once is not hammered).
void stream_loop(const std::shared_ptr<Shared>& s) {
  while (!s->quit) {
    std::string error;
    std::optional<std::uint64_t> after = snapshot(*s, error);
    if (after) {
      {
        std::lock_guard lock(s->mu);
        s->status = "live";
      }
      s->wake();
      SseReader reader;
      auto sink = [&](std::string_view piece) {
        for (SseEvent& e : reader.feed(piece)) {
          if (e.type == "reset") return false;  // a fresh view, then on
          boost::system::error_code ec;
          json::value v = json::parse(e.data, ec);
          if (ec || !v.is_object()) continue;
          std::lock_guard lock(s->mu);
          s->model.apply(e.type, v.get_object());
        }
        s->wake();
        return !s->quit;
      };
      // The server beats every 15 s: a minute of silence is a dead connection.
      auto r = http_request(s->url, "GET", fmt::format("/v1/events?after={}", *after), {},
                            s->client.token, std::chrono::seconds(10), sink, {},
                            std::chrono::seconds(60));
      if (r && r->status != 200) error = fmt::format("GET /v1/events answered {}", r->status);
      if (!r) error = r.error().message;
      if (error.empty()) error = "the event stream ended";
    }
    {
      std::lock_guard lock(s->mu);
      s->status = "reconnecting: " + error;
    }
    s->wake();
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}

void stream_main(const std::shared_ptr<Shared>& s) {
  try {
    stream_loop(s);
  } catch (const std::exception& e) {  // never std::terminate with the terminal in raw mode
    std::lock_guard lock(s->mu);
    s->status = fmt::format("stopped: {}", e.what());
  }
  s->wake();
}

// Raw keys, no echo, the alternate screen and no cursor while it lives; all put back after.
class Screen {
 public:
  Screen() {
    ::tcgetattr(STDIN_FILENO, &saved_);
    termios raw = saved_;
    raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);  // ISIG stays: Ctrl-C is a signal
    raw.c_cc[VMIN] = 1;
    raw.c_cc[VTIME] = 0;
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw);
    std::cout << "\x1b[?1049h\x1b[?25l" << std::flush;
  }
  ~Screen() {
    std::cout << "\x1b[?25h\x1b[?1049l" << std::flush;
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_);
  }
  Screen(const Screen&) = delete;
  Screen& operator=(const Screen&) = delete;

  static std::pair<int, int> size() {
    winsize ws{};
    if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0) {
      return {ws.ws_col, ws.ws_row};
    }
    return {80, 24};
  }
  static void draw(const std::vector<std::string>& lines) {
    std::string out = "\x1b[H";
    for (std::size_t i = 0; i < lines.size(); ++i) {
      out += lines[i] + "\x1b[K";
      if (i + 1 < lines.size()) out += "\r\n";
    }
    out += "\x1b[J";
    std::cout << out << std::flush;
  }

 private:
  termios saved_{};
};

// The length of the escape sequence `keys` starts with (0: incomplete). Keys that are not
// sequences (ESC then anything else) count as a lone ESC.
std::size_t escape_length(std::string_view keys) {
  if (keys.size() < 2) return 0;
  if (keys[1] == 'O') return keys.size() < 3 ? 0 : 3;
  if (keys[1] != '[') return 1;
  for (std::size_t i = 2; i < keys.size(); ++i) {
    auto c = static_cast<unsigned char>(keys[i]);
    if (c >= 0x40 && c <= 0x7e) return i + 1;  // the final byte
    if (c < 0x20 || c > 0x3f) return i;        // not a sequence after all
  }
  return 0;
}

std::string cancel_job(const Shared& s, std::int64_t id) {
  auto r = http_request(s.url, "DELETE", fmt::format("/v1/jobs/{}", id), {}, s.client.token,
                        std::chrono::seconds(10));
  if (!r) return fmt::format("job {}: {}", id, r.error().message);
  boost::system::error_code ec;
  json::value v = json::parse(r->body, ec);
  if (r->status == 200 || r->status == 202) return fmt::format("job {}: cancel sent", id);
  std::string detail = !ec && v.is_object() && v.as_object().contains("detail") &&
                               v.as_object().at("detail").is_string()
                           ? std::string(v.as_object().at("detail").get_string())
                           : r->body;
  return fmt::format("job {}: {} ({})", id, detail, r->status);
}

// What the interactive screen keeps between frames.
struct UiState {
  std::int64_t selected = 0;
  std::int64_t confirm = 0;  // the job a y/n question is about (0: none)
  std::string message;
  std::string keys;  // bytes of an escape sequence not complete yet
};

// `vramq top --once`: one screen, printed.
int print_once(Shared& s, const std::string& server) {
  std::string error;
  if (!snapshot(s, error)) {
    std::cerr << "vramq: " << error << "\n";
    return kExitUnreachable;
  }
  auto [cols, rows] = ::isatty(STDOUT_FILENO) == 1 ? Screen::size() : std::pair{160, 0};
  TopFrame f{
      .cols = cols, .rows = 1000, .selected = 0, .now_ms = now_ms(), .title = server, .footer = ""};
  std::vector<std::string> lines = render_top(s.model, f);
  while (!lines.empty() && lines.back().empty())
    lines.pop_back();
  for (const std::string& l : lines)
    std::cout << l << "\n";
  return kExitOk;
}

// The next frame, from the model as the stream thread left it.
std::vector<std::string> next_frame(Shared& s, UiState& ui, const std::string& server) {
  TopFrame f;
  std::tie(f.cols, f.rows) = Screen::size();
  f.now_ms = now_ms();
  std::lock_guard lock(s.mu);
  std::vector<std::int64_t> ids = selectable(s.model);
  if (std::find(ids.begin(), ids.end(), ui.selected) == ids.end()) {
    ui.selected = ids.empty() ? 0 : ids.front();
  }
  f.selected = ui.selected;
  f.title = fmt::format("{} ({})", server, s.status);
  f.footer = ui.confirm != 0 ? fmt::format("cancel job {}? y/n", ui.confirm)
                             : fmt::format("q quit | up/down select | c cancel{}{}",
                                           ui.message.empty() ? "" : " | ", ui.message);
  return render_top(s.model, f);
}

void move_selection(Shared& s, UiState& ui, int move) {
  std::lock_guard lock(s.mu);
  std::vector<std::int64_t> ids = selectable(s.model);
  auto it = std::find(ids.begin(), ids.end(), ui.selected);
  if (it == ids.end()) return;
  auto at = std::clamp<std::ptrdiff_t>(it - ids.begin() + move, 0,
                                       static_cast<std::ptrdiff_t>(ids.size()) - 1);
  ui.selected = ids[static_cast<std::size_t>(at)];
}

// Consumes the keys typed so far (an escape sequence not complete yet stays); true: quit.
bool on_keys(Shared& s, UiState& ui) {
  while (!ui.keys.empty()) {
    int move = 0;
    if (ui.keys[0] == '\x1b') {
      // A whole escape sequence (CSI: ESC [ params final; SS3: ESC O x), or a lone Esc.
      std::size_t len = escape_length(ui.keys);
      if (len == 0) return false;  // the rest of the sequence is on its way
      std::string_view seq(ui.keys.data(), len);
      if (seq == "\x1b[A" || seq == "\x1bOA") move = -1;
      if (seq == "\x1b[B" || seq == "\x1bOB") move = 1;
      ui.keys.erase(0, len);
      if (ui.confirm != 0 && move == 0) ui.confirm = 0;  // any other key answers no
    } else {
      char k = ui.keys[0];
      ui.keys.erase(0, 1);
      if (ui.confirm != 0) {
        if (k == 'y' || k == 'Y') ui.message = cancel_job(s, ui.confirm);
        ui.confirm = 0;
      } else if (k == 'q' || k == 'Q') {
        return true;
      } else if (k == 'k') {
        move = -1;
      } else if (k == 'j') {
        move = 1;
      } else if ((k == 'c' || k == 'C') && ui.selected != 0) {
        ui.confirm = ui.selected;
      }
    }
    if (move != 0) move_selection(s, ui, move);
  }
  return false;
}

// The interactive screen until a key, a signal or the terminal ends it: its exit code.
int run_screen(Shared& s, const std::string& server, int wake_read) {
  Screen screen;
  UiState ui;
  while (true) {
    if (int sig = g_signal.exchange(0); sig != 0 && sig != SIGWINCH) return 128 + sig;
    // Drawn outside the lock: a stalled terminal must not stall the stream.
    Screen::draw(next_frame(s, ui, server));
    pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {wake_read, POLLIN, 0}};
    if (::poll(fds, 2, 1000) < 0 && errno != EINTR) return kExitOk;
    if (fds[1].revents & POLLIN) {
      char drain[256];
      while (::read(wake_read, drain, sizeof drain) > 0) {
      }
    }
    if (!(fds[0].revents & (POLLIN | POLLHUP))) continue;
    char buf[64];
    ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
    if (n <= 0) return kExitOk;  // the terminal went away
    ui.keys.append(buf, static_cast<std::size_t>(n));
    if (on_keys(s, ui)) return kExitOk;
  }
}

}  // namespace

int top(const ClientOptions& c, bool once) {
  auto url = parse_server_url(c.server);
  if (!url) {
    std::cerr << "vramq: " << url.error().message << "\n";
    return kExitUsage;
  }
  auto s = std::make_shared<Shared>();
  s->client = c;
  s->url = *url;
  if (once) return print_once(*s, c.server);
  if (::isatty(STDIN_FILENO) != 1 || ::isatty(STDOUT_FILENO) != 1) {
    std::cerr << "vramq: top needs a terminal (vramq top --once prints one screen)\n";
    return kExitUsage;
  }
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC | O_NONBLOCK) != 0) return kExitUsage;
  g_wake_write = pipe_fds[1];
  s->wake_write = pipe_fds[1];
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  ::sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGWINCH})
    ::sigaction(sig, &sa, nullptr);
  // Detached: at quit it may be inside a read that only the next event ends; the process
  // ends it. It shares only `s`.
  std::thread(stream_main, s).detach();
  int exit_code = run_screen(*s, c.server, pipe_fds[0]);
  s->quit = true;
  return exit_code;
}

}  // namespace vramq::cli
