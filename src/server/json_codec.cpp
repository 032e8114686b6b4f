#include "server/json_codec.hpp"

#include <fmt/format.h>
#include <boost/json.hpp>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <limits>

namespace vramq::server {
namespace json = boost::json;

namespace {

constexpr std::string_view kSubmitFields[] = {
    "task",        "params",        "command", "vram_mb", "gpus",   "priority", "timeout_s",
    "max_retries", "retry_delay_s", "after",   "name",    "labels", "env",      "preemptible"};
constexpr std::size_t kMaxLabels = 32;
constexpr std::size_t kMaxDependencies = 100;

std::string_view kind_of(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return "null";
    case json::kind::bool_:
      return "a boolean";
    case json::kind::int64:
    case json::kind::uint64:
      return "an integer";
    case json::kind::double_:
      return "a number";
    case json::kind::string:
      return "a string";
    case json::kind::array:
      return "an array";
    case json::kind::object:
      return "an object";
  }
  return "a value";
}

boost::system::result<std::int64_t, FieldError> integer(const json::value& v,
                                                        std::string_view field, std::int64_t lo,
                                                        std::int64_t hi) {
  std::int64_t n = 0;
  if (v.is_int64()) {
    n = v.get_int64();
  } else if (v.is_double() && std::trunc(v.get_double()) == v.get_double() &&
             std::abs(v.get_double()) < 9.0e15) {
    n = static_cast<std::int64_t>(v.get_double());  // 2.0 is the integer 2, as JSON means it
  } else if (v.is_uint64()) {
    return FieldError{std::string(field),
                      fmt::format("{} must be an integer from {} to {}", field, lo, hi)};
  } else {
    return FieldError{std::string(field),
                      fmt::format("{} must be an integer, got {}", field, kind_of(v))};
  }
  if (n < lo || n > hi) {
    return FieldError{std::string(field),
                      fmt::format("{} must be an integer from {} to {}, got {}", field, lo, hi, n)};
  }
  return n;
}

bool valid_env_name(std::string_view name) {
  if (name.empty() || name.size() > 128 || std::isdigit(static_cast<unsigned char>(name[0]))) {
    return false;
  }
  return std::ranges::all_of(name, [](unsigned char c) { return std::isalnum(c) || c == '_'; });
}

boost::system::result<void, FieldError> parse_params(const json::value& v,
                                                     service::SubmitRequest& out) {
  if (!v.is_object()) {
    return FieldError{"params", fmt::format("params must be an object, got {}", kind_of(v))};
  }
  for (const auto& [key, value] : v.as_object()) {
    std::string name(key);
    std::string field = "params." + name;
    switch (value.kind()) {
      case json::kind::int64:
        out.params.emplace_back(name, value.get_int64());
        break;
      case json::kind::double_:
        out.params.emplace_back(name, value.get_double());
        break;
      case json::kind::bool_:
        out.params.emplace_back(name, value.get_bool());
        break;
      case json::kind::string:
        out.params.emplace_back(name, std::string(value.get_string()));
        break;
      case json::kind::uint64:
        return FieldError{field, fmt::format("{} is too large", field)};
      default:
        return FieldError{
            field, fmt::format("{} must be a number or a string, got {}", field, kind_of(value))};
    }
  }
  return {};
}

boost::system::result<void, FieldError> parse_command(const json::value& v,
                                                      service::SubmitRequest& out) {
  if (!v.is_array()) {
    return FieldError{"command",
                      fmt::format("command must be an array of strings, got {}", kind_of(v))};
  }
  const json::array& a = v.get_array();
  if (a.empty() || a.size() > 4096) {
    return FieldError{"command", "command must hold 1 to 4096 strings (the argv to execute)"};
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    std::string field = fmt::format("command[{}]", i);
    if (!a[i].is_string()) {
      return FieldError{field, fmt::format("{} must be a string, got {}", field, kind_of(a[i]))};
    }
    std::string_view s = a[i].get_string();
    if (s.find('\0') != std::string_view::npos) {
      return FieldError{field, fmt::format("{} must not contain NUL", field)};
    }
    if (i == 0 && s.empty()) return FieldError{field, "command[0] must name a program"};
    out.command.emplace_back(s);
  }
  return {};
}

boost::system::result<void, FieldError> parse_env(const json::value& v,
                                                  service::SubmitRequest& out) {
  if (!v.is_object()) {
    return FieldError{"env", fmt::format("env must be an object of strings, got {}", kind_of(v))};
  }
  for (const auto& [key, value] : v.as_object()) {
    std::string field = "env." + std::string(key);
    if (!valid_env_name(key)) {
      return FieldError{field, fmt::format("{}: not a valid variable name", field)};
    }
    if (key.starts_with("VRAMQ_") || key == "CUDA_VISIBLE_DEVICES") {
      return FieldError{field, fmt::format("{}: set by vramq itself", field)};
    }
    if (!value.is_string()) {
      return FieldError{field, fmt::format("{} must be a string, got {}", field, kind_of(value))};
    }
    std::string_view s = value.get_string();
    if (s.find('\0') != std::string_view::npos) {
      return FieldError{field, fmt::format("{} must not contain NUL", field)};
    }
    out.env.emplace_back(std::string(key), std::string(s));
  }
  return {};
}

// No control characters (names and labels end up in tables and logs), length in bytes.
bool printable(std::string_view s, std::size_t min, std::size_t max) {
  return s.size() >= min && s.size() <= max &&
         std::ranges::none_of(s, [](unsigned char c) { return c < 0x20 || c == 0x7f; });
}

// "labels": {"key": "value", ...}: at most 32; keys [A-Za-z0-9._/-]{1,63}, values <= 256 bytes.
boost::system::result<void, FieldError> parse_labels(const json::value& v,
                                                     service::SubmitRequest& out) {
  if (!v.is_object()) {
    return FieldError{"labels",
                      fmt::format("labels must be an object of strings, got {}", kind_of(v))};
  }
  if (v.get_object().size() > kMaxLabels) {
    return FieldError{"labels", fmt::format("labels: at most {}", kMaxLabels)};
  }
  for (const auto& [key, value] : v.get_object()) {
    std::string field = "labels." + std::string(key);
    if (!valid_label_key(key)) {
      return FieldError{field,
                        fmt::format("{}: a label key is 1 to 63 of A-Z a-z 0-9 . _ - /", field)};
    }
    if (!value.is_string() || !printable(value.get_string(), 0, 256)) {
      return FieldError{field, fmt::format("{} must be a string of at most 256 printable "
                                           "characters",
                                           field)};
    }
    out.labels.emplace_back(std::string(key), std::string(value.get_string()));
  }
  std::ranges::sort(out.labels);
  return {};
}

// "after": {"ok": [ids], "any": [ids]}: jobs that must end (ok: succeed) before this one starts.
boost::system::result<void, FieldError> parse_after(const json::value& v,
                                                    service::SubmitRequest& out) {
  if (!v.is_object()) {
    return FieldError{"after", fmt::format("after must be an object such as {{\"ok\": [12]}}, "
                                           "got {}",
                                           kind_of(v))};
  }
  for (const auto& [key, ids] : v.get_object()) {
    std::string field = "after." + std::string(key);
    if (key != "ok" && key != "any") {
      return FieldError{field, fmt::format("{}: after takes ok and any", field)};
    }
    if (!ids.is_array()) {
      return FieldError{field, fmt::format("{} must be an array of job ids", field)};
    }
    auto& list = key == "ok" ? out.after_ok : out.after_any;
    for (const json::value& id : ids.get_array()) {
      auto n = integer(id, field, 1, std::numeric_limits<std::int64_t>::max());
      if (!n) return n.error();
      if (std::ranges::find(list, *n) == list.end()) list.push_back(*n);
    }
  }
  if (out.after_ok.size() + out.after_any.size() > kMaxDependencies) {
    return FieldError{"after", fmt::format("after: at most {} jobs", kMaxDependencies)};
  }
  return {};
}

json::value opt(const std::optional<int>& v) {
  return v ? json::value(*v) : json::value(nullptr);
}
json::value opt(const std::optional<std::int64_t>& v) {
  return v ? json::value(*v) : json::value(nullptr);
}
json::value time_or_null(std::int64_t ms) {
  return ms > 0 ? json::value(rfc3339(ms)) : nullptr;
}
json::value text_or_null(std::string_view s) {
  return s.empty() ? json::value(nullptr) : json::value(s);
}

}  // namespace

bool valid_label_key(std::string_view k) {
  return !k.empty() && k.size() <= 63 && std::ranges::all_of(k, [](unsigned char c) {
    return std::isalnum(c) || c == '.' || c == '_' || c == '-' || c == '/';
  });
}

std::string rfc3339(std::int64_t unix_ms) {
  std::time_t secs = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, unix_ms % 1000);
}

boost::system::result<service::SubmitRequest, FieldError> parse_submit(std::string_view body) {
  boost::system::error_code ec;
  json::value root = json::parse(body, ec);
  if (ec) {
    return FieldError{"", fmt::format("the body is not valid JSON: {}", ec.message())};
  }
  if (!root.is_object()) {
    return FieldError{"", fmt::format("the body must be a JSON object, got {}", kind_of(root))};
  }
  service::SubmitRequest req;
  const json::object& o = root.get_object();
  for (const auto& [key, value] : o) {
    if (std::ranges::find(kSubmitFields, std::string_view(key)) == std::end(kSubmitFields)) {
      return FieldError{std::string(key),
                        fmt::format("unknown field '{}' (allowed: {})", std::string_view(key),
                                    fmt::join(kSubmitFields, ", "))};
    }
  }
  if (o.contains("task") == o.contains("command")) {
    return FieldError{"task", "give exactly one of 'task' (a catalog task) or 'command' (an argv)"};
  }
  if (const json::value* t = o.if_contains("task")) {
    if (!t->is_string() || t->get_string().empty() || t->get_string().size() > 256) {
      return FieldError{"task",
                        fmt::format("task must be a non-empty string, got {}", kind_of(*t))};
    }
    req.task = std::string(t->get_string());
  }
  if (const json::value* p = o.if_contains("params")) {
    if (!req.task.empty()) {
      if (auto r = parse_params(*p, req); !r) return r.error();
    } else {
      return FieldError{"params", "params only go with 'task'"};
    }
  }
  if (const json::value* c = o.if_contains("command")) {
    if (auto r = parse_command(*c, req); !r) return r.error();
  }
  if (const json::value* v = o.if_contains("vram_mb")) {
    auto n = integer(*v, "vram_mb", 0, std::int64_t{1} << 40);
    if (!n) return n.error();
    req.vram_mb = *n;
  }
  if (const json::value* v = o.if_contains("gpus")) {
    auto n = integer(*v, "gpus", 1, 64);
    if (!n) return n.error();
    req.gpus = static_cast<int>(*n);
  }
  if (const json::value* v = o.if_contains("preemptible")) {
    if (!v->is_bool()) {
      return FieldError{"preemptible",
                        fmt::format("preemptible must be true or false, got {}", kind_of(*v))};
    }
    req.preemptible = v->get_bool();
  }
  if (const json::value* v = o.if_contains("priority")) {
    auto n = integer(*v, "priority", -1000, 1000);
    if (!n) return n.error();
    req.priority = static_cast<int>(*n);
  }
  if (const json::value* v = o.if_contains("timeout_s")) {
    auto n = integer(*v, "timeout_s", 0, std::int64_t{30} * 24 * 3600);
    if (!n) return n.error();
    if (*n > 0) req.timeout_s = *n;
  }
  if (const json::value* v = o.if_contains("max_retries")) {
    auto n = integer(*v, "max_retries", 0, 100);
    if (!n) return n.error();
    req.max_retries = static_cast<int>(*n);
  }
  if (const json::value* v = o.if_contains("retry_delay_s")) {
    auto n = integer(*v, "retry_delay_s", 0, 86400);
    if (!n) return n.error();
    req.retry_delay_s = *n;
  }
  if (const json::value* v = o.if_contains("after")) {
    if (auto r = parse_after(*v, req); !r) return r.error();
  }
  if (const json::value* v = o.if_contains("name")) {
    if (!v->is_string() || !printable(v->get_string(), 1, 256)) {
      return FieldError{"name", "name must be 1 to 256 printable characters"};
    }
    req.name = std::string(v->get_string());
  }
  if (const json::value* v = o.if_contains("labels")) {
    if (auto r = parse_labels(*v, req); !r) return r.error();
  }
  if (const json::value* v = o.if_contains("env")) {
    if (auto r = parse_env(*v, req); !r) return r.error();
  }
  return req;
}

namespace {

json::value number_or_null(std::optional<double> d) {
  return d ? json::value(*d) : json::value(nullptr);
}

json::object progress_to_json(const core::Progress& p, std::int64_t at_ms) {
  return json::object{
      {"fraction", number_or_null(p.fraction)}, {"current", number_or_null(p.current)},
      {"total", number_or_null(p.total)},       {"unit", text_or_null(p.unit)},
      {"rate", number_or_null(p.rate)},         {"eta_s", number_or_null(p.eta_s)},
      {"message", text_or_null(p.message)},     {"updated_at", time_or_null(at_ms)}};
}

}  // namespace

json::object job_to_json(const service::JobView& v, bool with_output) {
  const core::Job& j = v.job;
  json::object o;
  o["id"] = j.id;
  o["state"] = core::to_string(j.state);
  o["reason"] = j.reason == core::EndReason::none ? json::value(nullptr)
                                                  : json::value(core::to_string(j.reason));
  o["task"] = text_or_null(j.spec.task);
  o["name"] = text_or_null(j.spec.name);
  json::object labels;
  for (const auto& [k, val] : j.spec.labels)
    labels[k] = val;
  o["labels"] = std::move(labels);
  o["owner"] = text_or_null(j.spec.owner);
  boost::system::error_code ec;
  json::value params = json::parse(j.spec.params_json, ec);
  o["params"] = ec ? json::value(json::object()) : std::move(params);
  json::array argv;
  for (const std::string& a : j.spec.argv)
    argv.emplace_back(a);
  o["command"] = std::move(argv);
  o["vram_mb"] = j.spec.vram_mb;
  o["gpu"] = opt(j.gpu);
  o["gpus"] = json::array(j.gpus.begin(), j.gpus.end());
  o["gpu_count"] = j.spec.gpus;
  o["priority"] = j.spec.priority;
  o["preemptible"] = j.spec.preemptible;
  o["borrowed"] = j.state == core::JobState::running && j.borrowed;
  bool queued = j.state == core::JobState::queued;
  o["queue_position"] = queued ? opt(v.queue_position) : json::value(nullptr);
  o["pending_reason"] = queued && v.pending_reason != core::PendingReason::none
                            ? json::value(core::to_string(v.pending_reason))
                            : json::value(nullptr);
  o["quota"] = queued && v.pending_reason == core::PendingReason::quota && !v.quota.empty()
                   ? json::value(v.quota)
                   : json::value(nullptr);
  if (queued && v.fair_share) {
    o["fair_share"] = json::object{
        {"use_mib_s", std::round(v.fair_share->use_mib_s)},
        {"weight", v.fair_share->weight},
        {"share", std::round(v.fair_share->use_mib_s / std::max(v.fair_share->weight, 1e-9))}};
  } else {
    o["fair_share"] = nullptr;
  }
  o["attempt"] = j.attempt;
  o["preemptions"] = j.preemptions;
  o["max_retries"] = j.spec.max_retries;
  o["retry_delay_s"] = j.spec.retry_delay_s;
  json::array ok(j.spec.after_ok.begin(), j.spec.after_ok.end());
  json::array any(j.spec.after_any.begin(), j.spec.after_any.end());
  o["after"] = json::object{{"ok", std::move(ok)}, {"any", std::move(any)}};
  o["retry_at"] = queued && j.not_before_ms > 0 ? time_or_null(j.not_before_ms) : nullptr;
  o["timeout_s"] = j.spec.timeout_s > 0 ? json::value(j.spec.timeout_s) : json::value(nullptr);
  o["submitted_at"] = time_or_null(j.submitted_at_ms);
  o["started_at"] = time_or_null(j.started_at_ms);
  o["finished_at"] = time_or_null(j.finished_at_ms);
  o["exit_code"] = opt(j.exit_code);
  o["signal"] = opt(j.signal);
  o["error"] = text_or_null(j.error);
  o["peak_vram_mb"] = opt(j.peak_vram_mb);
  o["measured_vram_mb"] = opt(v.measured_vram_mb);
  o["progress"] = v.progress ? json::value(progress_to_json(*v.progress, v.progress_at_ms))
                             : json::value(nullptr);
  json::array warnings;
  for (const std::string& w : j.warnings)
    warnings.emplace_back(w);
  o["warnings"] = std::move(warnings);
  o["output"] =
      with_output && core::is_terminal(j.state) ? json::value(j.output) : json::value(nullptr);
  o["output_truncated"] = j.output_truncated;
  o["job_dir"] = text_or_null(v.job_dir);
  // The warm worker its run went to (null: a process of its own).
  o["worker"] = j.worker != 0 ? json::value(j.worker) : json::value(nullptr);
  if (v.cluster) {
    const exec::ClusterRunState& c = *v.cluster;
    o["slurm"] = json::object{{"job_id", c.cluster_id},
                              {"state", c.state},
                              {"reason", text_or_null(c.reason)},
                              {"nodes", text_or_null(c.nodes)}};
  }
  return o;
}

json::object worker_to_json(const service::WorkerStatus& w) {
  json::object o;
  o["id"] = w.id;
  o["task"] = w.task;
  o["gpu"] = w.gpu;
  o["state"] = w.exited ? std::string_view("exited") : core::to_string(w.state);
  o["pid"] = w.pid;
  o["resident_mb"] = w.resident_mb;
  o["measured_mb"] = w.measured_mb ? json::value(*w.measured_mb) : json::value(nullptr);
  o["peak_mb"] = w.peak_mb;
  o["runs"] = w.runs;
  o["job"] = w.job != 0 ? json::value(w.job) : json::value(nullptr);
  o["started_at"] = time_or_null(w.started_at_ms);
  o["idle_since"] = time_or_null(w.idle_since_ms);
  o["keep_alive_left_s"] = w.keep_alive_left_ms
                               ? json::value(static_cast<double>(*w.keep_alive_left_ms) / 1000.0)
                               : json::value(nullptr);
  o["unload_reason"] = text_or_null(w.unload_reason);
  return o;
}

json::object workers_to_json(const std::vector<service::WorkerStatus>& workers) {
  json::array list;
  for (const service::WorkerStatus& w : workers)
    list.push_back(worker_to_json(w));
  return json::object{{"workers", std::move(list)}};
}

json::object queue_head_to_json(const service::QueueHead& q, bool names) {
  json::array head;
  for (const service::QueueHead::Item& i : q.head) {
    head.push_back(json::object{{"id", i.id},
                                {"queue_position", i.position},
                                {"pending_reason", i.reason == core::PendingReason::none
                                                       ? json::value(nullptr)
                                                       : json::value(core::to_string(i.reason))},
                                {"task", text_or_null(i.task)},
                                {"name", names ? text_or_null(i.name) : json::value(nullptr)},
                                {"owner", text_or_null(i.owner)},
                                {"vram_mb", i.vram_mb},
                                {"gpu_count", i.gpus},
                                {"priority", i.priority},
                                {"predicted_start", time_or_null(i.predicted_start_ms)}});
  }
  return json::object{{"queued", q.queued}, {"waiting", q.waiting}, {"head", std::move(head)}};
}

json::object gpu_to_json(const service::GpuStatus& g) {
  json::object o;
  o["index"] = g.info.index;
  o["uuid"] = g.info.uuid;
  o["name"] = g.info.name;
  if (!g.info.node.empty()) o["node"] = g.info.node;
  o["total_mb"] = g.info.total_mb;
  o["used_mb"] = g.info.used_mb;
  o["reserved_mb"] = g.reserved_mb;
  o["committed_mb"] = g.committed_mb;
  o["foreign_mb"] = g.info.foreign_mb;
  o["available_mb"] = g.available_mb;
  o["known"] = g.known;
  if (!g.info.error.empty()) o["error"] = g.info.error;
  json::array jobs;
  for (core::JobId id : g.jobs)
    jobs.emplace_back(id);
  o["jobs"] = std::move(jobs);
  o["workers"] = json::array(g.workers.begin(), g.workers.end());
  json::array foreign;
  for (const gpu::GpuProcess& p : g.info.foreign_processes) {
    foreign.push_back(
        json::object{{"pid", p.pid},
                     {"name", p.name},
                     {"used_mb", p.used_mb >= 0 ? json::value(p.used_mb) : json::value(nullptr)}});
  }
  o["foreign_processes"] = std::move(foreign);
  return o;
}

json::object gpus_to_json(const std::vector<service::GpuStatus>& gpus, std::int64_t buffer_mb,
                          std::string_view kind) {
  json::array list;
  for (const service::GpuStatus& g : gpus)
    list.push_back(gpu_to_json(g));
  json::object root;
  root["gpus"] = std::move(list);
  root["buffer_mb"] = buffer_mb;
  root["source"] = kind;
  return root;
}

json::object tasks_to_json(const core::TaskCatalog& catalog, const core::Footprints& footprints) {
  json::array tasks;
  for (const core::TaskDef& t : catalog.tasks()) {
    json::object o;
    o["name"] = t.name;
    o["description"] = t.description;
    o["timeout_s"] = t.timeout_s > 0 ? json::value(t.timeout_s) : json::value(nullptr);
    json::array env_allow;
    for (const std::string& e : t.env_allow)
      env_allow.emplace_back(e);
    o["env_allow"] = std::move(env_allow);
    json::array params;
    for (const core::ParamDef& p : t.params) {
      json::object po;
      po["name"] = p.name;
      po["type"] = core::to_string(p.type);
      if (!p.description.empty()) po["description"] = p.description;
      if (p.min) po["min"] = *p.min;
      if (p.max) po["max"] = *p.max;
      if (p.default_value) {
        std::visit([&](const auto& d) { po["default"] = d; }, *p.default_value);
      } else {
        po["required"] = true;
      }
      if (!p.pattern.empty()) po["pattern"] = p.pattern;
      if (p.type == core::ParamType::string || p.type == core::ParamType::path) {
        po["max_length"] = p.max_length;
      }
      if (!p.choices.empty()) {
        json::array values;
        for (const std::string& c : p.choices)
          values.emplace_back(c);
        po["values"] = std::move(values);
      }
      if (!p.under.empty()) po["under"] = p.under;
      if (p.type == core::ParamType::file) {
        if (p.max_bytes > 0) po["max_bytes"] = p.max_bytes;
        po["media_types"] = json::array(p.media_types.begin(), p.media_types.end());
      }
      params.push_back(std::move(po));
    }
    o["params"] = std::move(params);
    json::object vram;
    vram["base_mb"] = t.vram.base_mb();
    vram["per_unit_mb"] = t.vram.per_unit_mb();
    vram["unit"] = t.vram.unit();
    o["vram"] = std::move(vram);
    o["learn"] = t.learn;
    if (t.worker) {
      o["worker"] = json::object{{"keep_alive_s", t.worker->keep_alive_s},
                                 {"max_workers", t.worker->max_workers},
                                 {"setup_timeout_s", t.worker->setup_timeout_s},
                                 {"requeue_on_restart", t.worker->requeue_on_restart}};
    } else {
      o["worker"] = nullptr;
    }
    json::array learned;
    for (const core::Footprints::Estimate& e : footprints.of_task(t.name)) {
      learned.push_back(json::object{
          {"bucket", e.bucket},
          {"samples", e.samples},
          {"p95_mb", e.p95_mb},
          {"reserve_mb", e.reserve_mb ? json::value(*e.reserve_mb) : json::value(nullptr)}});
    }
    o["learned"] = std::move(learned);
    tasks.push_back(std::move(o));
  }
  json::object root;
  root["tasks"] = std::move(tasks);
  return root;
}

}  // namespace vramq::server
