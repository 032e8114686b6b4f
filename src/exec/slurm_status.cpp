#include "exec/slurm_status.hpp"

#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <limits>

#include <fmt/format.h>

#include <boost/json.hpp>

namespace vramq::exec {
namespace json = boost::json;
namespace {

std::int64_t to_int(std::string_view s, std::int64_t fallback = 0) {
  std::int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc{} && end == s.data() + s.size() ? v : fallback;
}

// 48K -> 49152 (Slurm prints counts with binary suffixes).
std::int64_t count_with_suffix(std::string_view s) {
  std::int64_t mult = 1;
  if (!s.empty()) {
    switch (s.back()) {
      case 'K':
        mult = std::int64_t{1} << 10;
        break;
      case 'M':
        mult = std::int64_t{1} << 20;
        break;
      case 'G':
        mult = std::int64_t{1} << 30;
        break;
      case 'T':
        mult = std::int64_t{1} << 40;
        break;
      default:
        break;
    }
    if (mult != 1) s.remove_suffix(1);
  }
  std::int64_t v = to_int(s, -1);
  if (v < 0 || v > std::numeric_limits<std::int64_t>::max() / mult) return -1;
  return v * mult;
}

std::string string_of(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

std::int64_t int_of(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) return 0;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<std::int64_t>(v->get_uint64());
  if (v->is_double()) return static_cast<std::int64_t>(v->get_double());
  // Slurm 23.02+ wraps numbers: {"set": true, "infinite": false, "number": 3}.
  if (v->is_object()) return int_of(v->get_object(), "number");
  return 0;
}

bool one_of(std::string_view state, std::initializer_list<std::string_view> states) {
  // A state may carry flags after '+' (RUNNING+COMPLETING is not printed, but DOWN+DRAIN is).
  std::string_view base = state.substr(0, state.find('+'));
  return std::ranges::find(states, base) != states.end();
}

}  // namespace

bool is_pending(std::string_view s) {
  return one_of(s, {"PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESIZING",
                    "SUSPENDED", "STOPPED", "SIGNALING", "STAGE_OUT"});
}
bool is_running(std::string_view s) {
  return one_of(s, {"RUNNING", "COMPLETING"});
}
bool is_ended(std::string_view s) {
  return one_of(s, {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "PREEMPTED",
                    "BOOT_FAIL", "DEADLINE", "OUT_OF_MEMORY", "SPECIAL_EXIT", "REVOKED"});
}

std::optional<SlurmJobStatus::Gres> parse_gres_detail(std::string_view text) {
  SlurmJobStatus::Gres g;
  std::size_t paren = text.find('(');
  std::string_view head = text.substr(0, paren);
  std::size_t first = head.find(':');
  std::size_t last = head.rfind(':');
  if (first == std::string_view::npos) return std::nullopt;
  g.name = std::string(head.substr(0, first));
  g.count = count_with_suffix(head.substr(last + 1));
  if (g.count < 0) return std::nullopt;
  if (paren == std::string_view::npos) return g;
  std::string_view rest = text.substr(paren + 1);
  if (!rest.starts_with("IDX:")) return g;
  rest.remove_prefix(4);
  rest = rest.substr(0, rest.find(')'));
  // "0", "0-1", "0,2-3"
  while (!rest.empty()) {
    std::string_view part = rest.substr(0, rest.find(','));
    rest.remove_prefix(std::min(rest.size(), part.size() + 1));
    std::size_t dash = part.find('-');
    std::int64_t lo = to_int(part.substr(0, dash), -1);
    std::int64_t hi = dash == std::string_view::npos ? lo : to_int(part.substr(dash + 1), -1);
    if (lo < 0 || hi < lo || hi > 1023) return std::nullopt;
    for (std::int64_t i = lo; i <= hi; ++i)
      g.indexes.push_back(static_cast<int>(i));
  }
  return g;
}

core::Result<std::vector<SlurmJobStatus>> parse_squeue_json(std::string_view text) {
  boost::system::error_code ec;
  json::value doc = json::parse(text, ec);
  if (ec || !doc.is_object()) return core::Error{"squeue --json: not JSON: " + ec.message()};
  // squeue --json exits 0 even when it could not reach the controller: its errors say so.
  if (const json::value* errors = doc.get_object().if_contains("errors");
      errors != nullptr && errors->is_array() && !errors->get_array().empty()) {
    std::string why;
    for (const json::value& e : errors->get_array()) {
      if (!e.is_object()) continue;
      std::string d = string_of(e.get_object(), "description");
      if (d.empty()) d = string_of(e.get_object(), "error");
      why += (why.empty() ? "" : "; ") + d;
    }
    return core::Error{"squeue --json: " + (why.empty() ? std::string("an error") : why)};
  }
  const json::value* jobs = doc.get_object().if_contains("jobs");
  if (jobs == nullptr || !jobs->is_array()) return core::Error{"squeue --json: no 'jobs' list"};
  std::vector<SlurmJobStatus> out;
  out.reserve(jobs->get_array().size());
  for (const json::value& v : jobs->get_array()) {
    if (!v.is_object()) continue;
    const json::object& o = v.get_object();
    SlurmJobStatus s;
    s.id = int_of(o, "job_id");
    s.name = string_of(o, "name");
    s.cluster = string_of(o, "cluster");
    const json::value* state = o.if_contains("job_state");
    if (state != nullptr && state->is_string()) s.state = std::string(state->get_string());
    // Slurm 23.02+: a list of states.
    if (state != nullptr && state->is_array() && !state->get_array().empty() &&
        state->get_array()[0].is_string()) {
      s.state = std::string(state->get_array()[0].get_string());
    }
    s.reason = string_of(o, "state_reason");
    s.raw_exit = int_of(o, "exit_code");
    s.start_time = int_of(o, "start_time");
    s.nodes = string_of(o, "nodes");
    if (const json::value* d = o.if_contains("gres_detail"); d != nullptr && d->is_array()) {
      for (const json::value& g : d->get_array()) {
        if (!g.is_string()) continue;
        if (auto parsed = parse_gres_detail(g.get_string())) s.gres.push_back(std::move(*parsed));
      }
    }
    if (s.id > 0) out.push_back(std::move(s));
  }
  return out;
}

std::map<std::string, std::string, std::less<>> parse_key_values(std::string_view line) {
  std::map<std::string, std::string, std::less<>> out;
  // A field starts at a word of the form Key= (letters, digits, ':', '/', '_') after a space.
  auto is_key_start = [&](std::size_t at) {
    std::size_t eq = line.find('=', at);
    if (eq == std::string_view::npos || eq == at) return false;
    for (std::size_t i = at; i < eq; ++i) {
      char c = line[i];
      bool ok = std::isalnum(static_cast<unsigned char>(c)) != 0 || c == ':' || c == '/' ||
                c == '_' || c == '.';
      if (!ok) return false;
    }
    return true;
  };
  std::vector<std::size_t> starts;
  for (std::size_t i = 0; i < line.size(); ++i) {
    if ((i == 0 || line[i - 1] == ' ') && line[i] != ' ' && is_key_start(i)) starts.push_back(i);
  }
  for (std::size_t k = 0; k < starts.size(); ++k) {
    std::size_t begin = starts[k];
    std::size_t end = k + 1 < starts.size() ? starts[k + 1] : line.size();
    std::string_view field = line.substr(begin, end - begin);
    while (!field.empty() && (field.back() == ' ' || field.back() == '\n'))
      field.remove_suffix(1);
    std::size_t eq = field.find('=');
    out.emplace(std::string(field.substr(0, eq)), std::string(field.substr(eq + 1)));
  }
  return out;
}

core::Result<SlurmJobEnd> parse_scontrol_job(std::string_view line) {
  auto kv = parse_key_values(line);
  auto state = kv.find("JobState");
  auto exit = kv.find("ExitCode");
  if (state == kv.end() || exit == kv.end()) {
    return core::Error{"scontrol show job: no JobState/ExitCode in its answer"};
  }
  SlurmJobEnd e;
  e.state = state->second;
  if (auto r = kv.find("Reason"); r != kv.end()) e.reason = r->second;
  std::string_view code = exit->second;
  std::size_t colon = code.find(':');
  e.exit_code = static_cast<int>(to_int(code.substr(0, colon), 0));
  if (colon != std::string_view::npos)
    e.signal = static_cast<int>(to_int(code.substr(colon + 1), 0));
  return e;
}

std::vector<SlurmNode> parse_scontrol_nodes(std::string_view text) {
  std::vector<SlurmNode> out;
  while (!text.empty()) {
    std::string_view line = text.substr(0, text.find('\n'));
    text.remove_prefix(std::min(text.size(), line.size() + 1));
    auto kv = parse_key_values(line);
    auto name = kv.find("NodeName");
    if (name == kv.end()) continue;
    SlurmNode n;
    n.name = name->second;
    if (auto s = kv.find("State"); s != kv.end()) n.state = s->second;
    if (auto r = kv.find("Reason"); r != kv.end()) n.reason = r->second;
    if (auto g = kv.find("Gres"); g != kv.end() && g->second != "(null)") {
      std::string_view list = g->second;
      while (!list.empty()) {
        std::string_view item = list.substr(0, list.find(','));
        list.remove_prefix(std::min(list.size(), item.size() + 1));
        if (auto parsed = parse_gres_detail(item)) n.gres[parsed->name] += parsed->count;
      }
    }
    out.push_back(std::move(n));
  }
  return out;
}

const SlurmJobStatus* find_named(const std::vector<SlurmJobStatus>& jobs, std::string_view name,
                                 std::string_view cluster) {
  for (const SlurmJobStatus& j : jobs) {
    if (j.name == name && (j.cluster.empty() || j.cluster == cluster)) return &j;
  }
  return nullptr;
}

std::string slurm_gpu_uuid(std::string_view node, std::int64_t index) {
  return std::string(node) + "/" + std::to_string(index);
}

bool node_usable(std::string_view state) {
  for (std::string_view bad : {"DOWN", "DRAIN", "FAIL", "NOT_RESPONDING", "FUTURE", "POWERED_DOWN",
                               "POWERING_DOWN", "UNKNOWN", "INVAL"}) {
    if (state.find(bad) != std::string_view::npos) return false;
  }
  return true;
}

std::optional<core::RunEnd> slurm_run_end(const std::optional<SlurmJobEnd>& end,
                                          const SlurmJobStatus* seen, std::int64_t slurm_id) {
  std::string state = end ? end->state : seen != nullptr ? seen->state : "";
  bool ran_out = state == "COMPLETED" || state == "FAILED";
  bool signalled = end && end->signal != 0;
  if (!state.empty() && !ran_out && !signalled) {
    std::string why =
        end && !end->reason.empty() && end->reason != "None" ? ": " + end->reason : "";
    return core::RunEnd{.lost = fmt::format("Slurm ended job {} as {}{}", slurm_id, state, why)};
  }
  core::RunEnd out;
  if (end) {
    if (end->signal != 0) {
      out.signal = end->signal;
    } else {
      out.exit_code = end->exit_code;
    }
    return out;
  }
  if (seen == nullptr) return std::nullopt;
  int raw = static_cast<int>(seen->raw_exit);
  if (WIFSIGNALED(raw)) {
    out.signal = WTERMSIG(raw);
  } else {
    out.exit_code = WEXITSTATUS(raw);
  }
  return out;
}

}  // namespace vramq::exec
