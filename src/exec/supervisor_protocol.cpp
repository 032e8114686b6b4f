#include "exec/supervisor_protocol.hpp"

#include <charconv>
#include <vector>

namespace vramq::exec {

namespace {

template <class T>
bool parse_number(std::string_view text, T& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc{} && end == text.data() + text.size();
}

void add(std::string& out, std::string_view key, std::string_view value) {
  out.append(key).append(" ").append(value).append("\n");
}

template <class T>
void add_number(std::string& out, std::string_view key, T value) {
  add(out, key, std::to_string(value));
}

}  // namespace

std::string format_record(const SupervisorRecord& r) {
  std::string out;
  add_number(out, "job", r.job);
  add_number(out, "attempt", r.attempt);
  add_number(out, "supervisor_pid", r.supervisor_pid);
  add_number(out, "supervisor_start_ticks", r.supervisor_start_ticks);
  if (!r.gpus.empty()) add(out, "gpus", r.gpus);
  add_number(out, "pid", r.pid);
  add_number(out, "pid_start_ticks", r.pid_start_ticks);
  add_number(out, "started_at_ms", r.started_at_ms);
  if (r.ended) {
    add_number(out, "ended_at_ms", r.ended_at_ms);
    if (r.exit_code) add_number(out, "exit_code", *r.exit_code);
    if (r.signal) add_number(out, "signal", *r.signal);
    if (!r.spawn_error.empty()) {
      std::string one_line = r.spawn_error;
      for (char& c : one_line) {
        if (c == '\n' || c == '\r') c = ' ';
      }
      add(out, "spawn_error", one_line);
    }
    add_number(out, "orphaned", r.orphaned ? 1 : 0);
  }
  return out;
}

std::optional<SupervisorRecord> parse_record(std::string_view text) {
  SupervisorRecord r;
  bool has_job = false;
  while (!text.empty()) {
    std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (line.empty()) continue;
    std::size_t space = line.find(' ');
    if (space == std::string_view::npos) return std::nullopt;
    std::string_view key = line.substr(0, space);
    std::string_view value = line.substr(space + 1);
    bool ok = true;
    int flag = 0;
    if (key == "job") {
      ok = parse_number(value, r.job);
      has_job = ok;
    } else if (key == "attempt") {
      ok = parse_number(value, r.attempt);
    } else if (key == "supervisor_pid") {
      ok = parse_number(value, r.supervisor_pid);
    } else if (key == "supervisor_start_ticks") {
      ok = parse_number(value, r.supervisor_start_ticks);
    } else if (key == "gpus") {
      r.gpus = value;
    } else if (key == "pid") {
      ok = parse_number(value, r.pid);
    } else if (key == "pid_start_ticks") {
      ok = parse_number(value, r.pid_start_ticks);
    } else if (key == "started_at_ms") {
      ok = parse_number(value, r.started_at_ms);
    } else if (key == "ended_at_ms") {
      ok = parse_number(value, r.ended_at_ms);
      r.ended = true;
    } else if (key == "exit_code") {
      ok = parse_number(value, r.exit_code.emplace());
    } else if (key == "signal") {
      ok = parse_number(value, r.signal.emplace());
    } else if (key == "spawn_error") {
      r.spawn_error = value;
    } else if (key == "orphaned") {
      ok = parse_number(value, flag) && (flag == 0 || flag == 1);
      r.orphaned = flag == 1;
    }
    // Unknown keys are skipped: a newer supervisor may say more than this server knows.
    if (!ok) return std::nullopt;
  }
  if (!has_job || r.job <= 0) return std::nullopt;
  // An end is one of: an exit code, a signal, a spawn error.
  if (r.ended &&
      (static_cast<int>(r.exit_code.has_value()) + static_cast<int>(r.signal.has_value()) +
           static_cast<int>(!r.spawn_error.empty()) !=
       1)) {
    return std::nullopt;
  }
  return r;
}

std::string run_file(std::int64_t job, int attempt, std::string_view suffix) {
  std::string out = std::to_string(job);
  out.append("-").append(std::to_string(attempt)).append(suffix);
  return out;
}

std::optional<RunName> parse_run_file(std::string_view name, std::string_view suffix) {
  if (name.size() <= suffix.size() || !name.ends_with(suffix)) return std::nullopt;
  name.remove_suffix(suffix.size());
  std::size_t dash = name.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  RunName out;
  if (!parse_number(name.substr(0, dash), out.job) ||
      !parse_number(name.substr(dash + 1), out.attempt) || out.job <= 0 || out.attempt <= 0) {
    return std::nullopt;
  }
  return out;
}

std::string signal_line(int sig) {
  return "signal " + std::to_string(sig) + "\n";
}

std::optional<int> parse_signal_line(std::string_view line) {
  if (!line.starts_with("signal ")) return std::nullopt;
  int sig = 0;
  if (!parse_number(line.substr(7), sig) || sig <= 0 || sig >= 65) return std::nullopt;
  return sig;
}

}  // namespace vramq::exec
