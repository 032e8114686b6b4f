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
  if (!r.socket.empty()) add(out, "socket", r.socket);
  add_number(out, "pid", r.pid);
  add_number(out, "pid_start_ticks", r.pid_start_ticks);
  add_number(out, "started_at_ms", r.started_at_ms);
  if (r.stderr_switches > 0) add_number(out, "stderr_switches", r.stderr_switches);
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
      if (r.spawn_errno != 0) add_number(out, "spawn_errno", r.spawn_errno);
    }
    add_number(out, "orphaned", r.orphaned ? 1 : 0);
    if (!r.log_limit.empty()) add(out, "log_limit", r.log_limit);
  }
  out.append("end\n");
  return out;
}

std::optional<SupervisorRecord> parse_record(std::string_view text) {
  SupervisorRecord r;
  bool has_job = false;
  bool whole = false;
  while (!text.empty() && !whole) {
    std::size_t nl = text.find('\n');
    if (nl == std::string_view::npos) return std::nullopt;  // a line cut short
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl + 1);
    if (line.empty()) continue;
    if (line == "end") {
      whole = true;
      continue;
    }
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
    } else if (key == "socket") {
      r.socket = value;
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
    } else if (key == "spawn_errno") {
      ok = parse_number(value, r.spawn_errno);
    } else if (key == "orphaned") {
      ok = parse_number(value, flag) && (flag == 0 || flag == 1);
      r.orphaned = flag == 1;
    } else if (key == "stderr_switches") {
      ok = parse_number(value, r.stderr_switches);
    } else if (key == "log_limit") {
      ok = value == "stdout" || value == "stderr";
      r.log_limit = value;
    }
    // Unknown keys are skipped: a newer supervisor may say more than this server knows.
    if (!ok) return std::nullopt;
  }
  if (!whole || !has_job || r.job == 0) return std::nullopt;
  // An end is one of: an exit code, a signal, a spawn error.
  if (r.ended &&
      (static_cast<int>(r.exit_code.has_value()) + static_cast<int>(r.signal.has_value()) +
           static_cast<int>(!r.spawn_error.empty()) !=
       1)) {
    return std::nullopt;
  }
  return r;
}

std::string slot_file(int slot) {
  return "slot-" + std::to_string(slot);
}

std::optional<int> parse_slot_file(std::string_view name) {
  if (!name.starts_with("slot-")) return std::nullopt;
  int slot = -1;
  if (!parse_number(name.substr(5), slot) || slot < 0 || slot > 1'000'000) return std::nullopt;
  return slot;
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

std::string stderr_line(std::string_view path) {
  return "stderr " + std::string(path) + "\n";
}

std::optional<std::string> parse_stderr_line(std::string_view line) {
  if (!line.starts_with("stderr /") || line.find('\0') != std::string_view::npos) {
    return std::nullopt;
  }
  return std::string(line.substr(7));
}

}  // namespace vramq::exec
