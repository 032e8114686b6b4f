// vramq-fake-model --worker: the demo model as a warm worker (docs/workers.md). It loads once
// (--load-seconds, holding --resident-mb of simulated VRAM from then on), says `ready`, and then
// serves runs from its stdin: each holds max(resident, the run's vram_mb) for `seconds`, writes
// progress to stderr and OUT/result.json into the job's directory, and answers `result` with the
// output text. Asked to, a run misbehaves as real ones do: `fail` = "error" (not retryable),
// "retryable", "oom" (a CUDA out-of-memory error), "crash" (the process dies mid-run), "hang"
// (it ignores cancel). It answers pings, and exits on `shutdown` or when its stdin ends. With
// --nvml-dir it also shows its use to the fake NVML driver.
#include <poll.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

#include "exec/worker_protocol.hpp"
#include "fake_model.hpp"

namespace {

namespace json = boost::json;
using vramq::exec::WorkerCommand;

long long now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

using fake_model::report_vram;

void send(const std::string& line) {
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);
}

// stdin, a line at a time; waits at most `timeout_ms` (-1: for ever). nullopt: nothing yet;
// "\n" alone stands for the end of stdin.
class Lines {
 public:
  std::optional<std::string> next(int timeout_ms) {
    for (;;) {
      if (auto nl = buf_.find('\n'); nl != std::string::npos) {
        std::string line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return line;
      }
      if (eof_) return std::string("\n");
      pollfd p{.fd = 0, .events = POLLIN, .revents = 0};
      if (::poll(&p, 1, timeout_ms) <= 0) return std::nullopt;
      char chunk[65536];
      ssize_t n = ::read(0, chunk, sizeof chunk);
      if (n <= 0) {
        eof_ = true;
      } else {
        buf_.append(chunk, static_cast<std::size_t>(n));
      }
    }
  }

 private:
  std::string buf_;
  bool eof_ = false;
};

template <class T>
T param(const json::object& p, const char* key, T fallback) {
  const json::value* v = p.if_contains(key);
  if (v == nullptr) return fallback;
  if constexpr (std::is_same_v<T, std::string>) {
    return v->is_string() ? std::string(v->as_string()) : fallback;
  } else {
    return v->is_number() ? v->to_number<T>() : fallback;
  }
}

}  // namespace

int worker_main(int argc, char** argv) {
  double load_seconds = 0;
  long long resident_mb = 0;
  bool crash_on_load = false;
  bool ignore_pings = false;
  double shutdown_seconds = 0;  // a slow unload (freeing memory, flushing caches)
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string arg = argv[i];
    std::string value = argv[i + 1];
    if (arg == "--load-seconds") load_seconds = std::atof(value.c_str());
    if (arg == "--resident-mb") resident_mb = std::atoll(value.c_str());
    if (arg == "--crash-on-load") crash_on_load = value == "1";
    if (arg == "--ignore-pings") ignore_pings = value == "1";
    if (arg == "--shutdown-seconds") shutdown_seconds = std::atof(value.c_str());
    if (arg == "--nvml-dir") fake_model::nvml_dir = value;
  }
  Lines lines;
  // The first line is `init`; anything else before it is ignored.
  for (;;) {
    std::optional<std::string> line = lines.next(-1);
    if (!line || *line == "\n") return 0;
    auto c = vramq::exec::parse_worker_command(*line);
    if (c && c->type == WorkerCommand::Type::init) break;
  }
  std::fprintf(stderr, "fake-model worker %d: loading (%.1f s, %lld MiB)\n", getpid(), load_seconds,
               resident_mb);
  std::fflush(stderr);
  std::this_thread::sleep_for(std::chrono::duration<double>(load_seconds));
  if (crash_on_load) {
    std::fprintf(stderr, "fake-model worker: crashing during setup as asked\n");
    std::fflush(stderr);
    std::abort();
  }
  report_vram(resident_mb);
  send(vramq::exec::ready_line());
  for (;;) {
    std::optional<std::string> line = lines.next(-1);
    if (!line || *line == "\n") return 0;
    auto c = vramq::exec::parse_worker_command(*line);
    if (!c) continue;
    if (c->type == WorkerCommand::Type::shutdown) {
      std::this_thread::sleep_for(std::chrono::duration<double>(shutdown_seconds));
      return 0;
    }
    if (c->type == WorkerCommand::Type::ping) {
      if (!ignore_pings) send(vramq::exec::pong_line(c->seq));
      continue;
    }
    if (c->type != WorkerCommand::Type::run) continue;
    json::object p = json::parse(c->params_json).as_object();
    double seconds = param<double>(p, "seconds", 0);
    long long vram_mb = param<long long>(p, "vram_mb", 0);
    std::string output = param<std::string>(p, "output", "done");
    std::string fail = param<std::string>(p, "fail", "");
    long long started = now_ms();
    report_vram(std::max(resident_mb, vram_mb));
    std::fprintf(stderr, "run of job %lld: %.2f s\n", static_cast<long long>(c->job), seconds);
    std::fflush(stderr);
    bool cancelled = false;
    long long until = started + static_cast<long long>(seconds * 1000);
    long long progress_at = started;
    for (long long now = now_ms(); now < until || fail == "hang"; now = now_ms()) {
      // How far the run is, as a worker reports it (the live view shows it), twice a second.
      if (now - progress_at >= 500 && until > started) {
        progress_at = now;
        send(vramq::exec::progress_line(
            c->job, static_cast<double>(now - started) / static_cast<double>(until - started),
            "denoising"));
      }
      if (fail == "crash" && now >= started + static_cast<long long>(seconds * 500)) {
        std::fprintf(stderr, "fake-model worker: crashing mid-run as asked\n");
        std::fflush(stderr);
        std::abort();
      }
      int wait = fail == "hang" ? 100 : static_cast<int>(std::min<long long>(until - now, 100));
      std::optional<std::string> more = lines.next(std::max(wait, 1));
      if (!more) continue;
      if (*more == "\n") return 0;
      auto m = vramq::exec::parse_worker_command(*more);
      if (!m) continue;
      if (m->type == WorkerCommand::Type::ping && !ignore_pings) {
        send(vramq::exec::pong_line(m->seq));
      } else if (m->type == WorkerCommand::Type::cancel && m->job == c->job && fail != "hang") {
        cancelled = true;
        break;
      } else if (m->type == WorkerCommand::Type::shutdown) {
        return 0;
      }
    }
    report_vram(resident_mb);
    if (cancelled) {
      std::fprintf(stderr, "run of job %lld: cancelled\n", static_cast<long long>(c->job));
      std::fflush(stderr);
      send(vramq::exec::cancelled_line(c->job));
      continue;
    }
    std::fprintf(stderr, "progress 100%%\n");
    std::fflush(stderr);
    if (fail == "error" || fail == "retryable") {
      send(vramq::exec::error_line(c->job, "the input cannot be reconstructed",
                                   fail == "retryable"));
      continue;
    }
    if (fail == "oom") {
      send(vramq::exec::error_line(
          c->job, "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB", true));
      continue;
    }
    if (fail == "liar") {  // a broken worker: it answers for a job it was never sent
      send(vramq::exec::result_line(c->job + 1000, "{}"));
      continue;
    }
    std::string result = json::serialize(json::object{{"output", output},
                                                      {"vram_mb", std::max(resident_mb, vram_mb)},
                                                      {"started_ms", started},
                                                      {"finished_ms", now_ms()},
                                                      {"job_id", c->job},
                                                      {"worker_pid", getpid()}});
    if (!c->job_dir.empty()) std::ofstream(c->job_dir + "/result.json") << result << "\n";
    send(vramq::exec::result_line(c->job, result));
  }
}
