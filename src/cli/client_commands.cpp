#include "cli/client_commands.hpp"

#include <fmt/format.h>
#include <boost/json.hpp>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <map>
#include <tuple>

#include "cli/client_call.hpp"
#include "cli/http_client.hpp"
#include "cli/interrupt_notice.hpp"
#include "cli/job_watch.hpp"
#include "cli/multipart_form.hpp"
#include "cli/table.hpp"
#include "core/units.hpp"
#include "util/json_text.hpp"

namespace vramq::cli {
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

// "KEY=VALUE" flags (--label, --env) as a JSON object; nullopt (said on stderr) for a malformed
// one.
std::optional<json::object> key_values(const std::vector<std::string>& pairs,
                                       std::string_view flag) {
  json::object out;
  for (const std::string& kv : pairs) {
    std::size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      std::cerr << fmt::format("vramq: {} '{}' must be KEY=VALUE\n", flag, kv);
      return std::nullopt;
    }
    out[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return out;
}

std::int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// "2026-11-25T13:23:24.123Z" -> Unix ms (the server's RFC 3339 form); nullopt for anything else.
std::optional<std::int64_t> parse_rfc3339_ms(const json::value& v) {
  if (!v.is_string()) return std::nullopt;
  std::tm tm{};
  int ms = 0;
  std::string s(v.get_string());
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) != 7) {
    return std::nullopt;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<std::int64_t>(timegm(&tm)) * 1000 + ms;
}

// How long a job has run (running) or ran (ended): "1h02m", "3m05s", "4.2s"; "-" if it never ran.
std::string run_time(const json::object& j, std::int64_t now_ms) {
  auto started = parse_rfc3339_ms(j.at("started_at"));
  if (!started) return "-";
  std::int64_t end = parse_rfc3339_ms(j.at("finished_at")).value_or(now_ms);
  std::int64_t ms = std::max<std::int64_t>(0, end - *started);
  if (ms < 60'000) return fmt::format("{:.1f}s", static_cast<double>(ms) / 1000.0);
  std::int64_t s = ms / 1000;
  if (s < 3600) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}h{:02}m", s / 3600, s % 3600 / 60);
}

// At most `width` characters, with "..." when cut (table cells that could run long).
std::string clip(std::string s, std::size_t width) {
  if (s.size() <= width) return s;
  s.resize(width - 3);
  return s + "...";
}

std::vector<std::string> split_words(std::string_view text) {
  std::vector<std::string> words;
  std::size_t at = 0;
  while (at < text.size()) {
    std::size_t space = text.find(' ', at);
    if (space == std::string_view::npos) space = text.size();
    if (space > at) words.emplace_back(text.substr(at, space - at));
    at = space + 1;
  }
  return words;
}

// `lead` then the items joined by `sep`, wrapped at `width` with continuation lines indented by
// `indent`; an item longer than a line gets a line of its own.
std::string wrap(std::string lead, const std::vector<std::string>& items, std::size_t width,
                 std::size_t indent, std::string_view sep) {
  std::string out = std::move(lead);
  std::size_t line_start = 0;
  bool first = true;
  for (const std::string& item : items) {
    std::string piece = first ? item : std::string(sep) + item;
    if (!first && out.size() - line_start + piece.size() > width) {
      out += "\n";
      line_start = out.size();
      out += std::string(indent, ' ');
      piece = item;
    }
    out += piece;
    first = false;
  }
  return out + "\n";
}

// "0" or "0,1" (a multi-GPU job's GPUs), "-" before it ran; "x2" when it waits for two.
std::string gpu_list(const json::object& j) {
  std::vector<std::string> gpus;
  if (const json::value* v = j.if_contains("gpus"); v != nullptr && v->is_array()) {
    for (const json::value& g : v->get_array())
      gpus.push_back(str(g));
  }
  if (!gpus.empty()) return fmt::format("{}", fmt::join(gpus, ","));
  const json::value* count = j.if_contains("gpu_count");
  if (count != nullptr && count->is_int64() && count->get_int64() > 1) {
    return fmt::format("x{}", count->get_int64());
  }
  return "-";
}

std::string job_line(const json::object& j) {
  std::string where;
  if (str(j.at("state")) == "queued") {
    where =
        fmt::format(" (position {}, {})", str(j.at("queue_position")), str(j.at("pending_reason")));
  } else if (!j.at("gpu").is_null()) {
    where = fmt::format(" on GPU {}", gpu_list(j));
  }
  return fmt::format("job {} {}{}", str(j.at("id")), str(j.at("state")), where);
}

void print_job(const json::object& j) {
  Table t({"FIELD", "VALUE"});
  for (const char* key :
       {"id",           "name",       "owner",          "labels",         "after",
        "state",        "reason",     "task",           "params",         "vram_mb",
        "gpu",          "priority",   "queue_position", "pending_reason", "quota",
        "preemptible",  "borrowed",   "attempt",        "max_retries",    "timeout_s",
        "submitted_at", "started_at", "finished_at",    "exit_code",      "signal",
        "peak_vram_mb", "error",      "job_dir"}) {
    const json::value* v = j.if_contains(key);
    if (v == nullptr) continue;
    if (v->is_object()) {  // params: name=value pairs
      std::vector<std::string> kv;
      for (const auto& [k, x] : v->get_object())
        kv.push_back(fmt::format("{}={}", std::string_view(k), str(x)));
      t.add({key, kv.empty() ? "-" : fmt::format("{}", fmt::join(kv, " "))});
    } else {
      t.add({key, str(*v)});
    }
  }
  if (const json::value* w = j.if_contains("warnings"); w != nullptr && w->is_array()) {
    for (const json::value& line : w->get_array())
      t.add({"warning", str(line)});
  }
  std::vector<std::string> argv;
  for (const json::value& a : j.at("command").as_array())
    argv.push_back(str(a));
  t.add({"command", fmt::format("{}", fmt::join(argv, " "))});
  std::cout << t.render();
  if (const json::value* out = j.if_contains("output"); out && out->is_string()) {
    const json::value* cut = j.if_contains("output_truncated");
    bool truncated = cut != nullptr && cut->is_bool() && cut->get_bool();
    std::cout << (truncated ? fmt::format("--- output (its last part only; vramq logs {} prints "
                                          "all of it) ---\n",
                                          str(j.at("id")))
                            : std::string("--- output ---\n"))
              << std::string_view(out->get_string());
    if (!out->get_string().empty() && out->get_string().back() != '\n') std::cout << "\n";
  }
}

bool terminal(const json::object& j) {
  std::string s = str(j.at("state"));
  return s != "queued" && s != "running";
}

// Final job -> output and exit code: 0 succeeded; the job's own exit code when it exited
// non-zero (as srun does); 1 for any other failure.
int finish_job(const ClientOptions& c, const json::object& j) {
  std::string state = str(j.at("state"));
  if (c.json) {
    std::cout << util::to_json_text(j) << "\n";
  } else {
    if (const json::value* out = j.if_contains("output"); out && out->is_string()) {
      std::cout << std::string_view(out->get_string());
      std::cout.flush();
    }
    if (const json::value* cut = j.if_contains("output_truncated");
        cut && cut->is_bool() && cut->get_bool()) {
      std::cerr << fmt::format(
          "vramq: the output above is only its last part; vramq logs {} prints all of it\n",
          str(j.at("id")));
    }
    if (state != "succeeded") {
      std::string reason = str(j.at("reason"));
      std::string error = j.at("error").is_null() ? "" : str(j.at("error"));
      std::cerr << fmt::format("vramq: job {} {}{}{}\n", str(j.at("id")), state,
                               reason == "-" || reason == state ? "" : " (" + reason + ")",
                               error.empty() ? "" : ": " + error);
    }
  }
  if (state == "succeeded") return kExitOk;
  const json::value& code = j.at("exit_code");
  if (state == "failed" && code.is_int64() && code.get_int64() > 0 && code.get_int64() < 256) {
    return static_cast<int>(code.get_int64());
  }
  return kExitJobFailed;
}

std::string interrupt_notice(std::int64_t id) {
  // Printed on a line of its own, below the live line's last state (cli/job_watch).
  return fmt::format(
      "vramq: stopped waiting; job {} keeps running on the server (vramq wait {} to wait again, "
      "vramq cancel {} to stop it)",
      id, id, id);
}

// submit --wait: waits for a job just submitted; Ctrl-C says that it runs on. The notice is set
// up before the job's first line is printed: a Ctrl-C as soon as the id shows is told too.
int wait_and_finish(const ClientOptions& c, json::object job) {
  std::optional<InterruptNotice> notice;
  if (!terminal(job)) notice.emplace(interrupt_notice(job.at("id").to_number<std::int64_t>()));
  // The id first, at once, on stderr (stdout is the job's output): whatever happens to this
  // command, the person knows which job is theirs.
  std::cerr << job_line(job) << (terminal(job) ? "" : ", waiting...") << "\n";
  if (!terminal(job)) {
    auto r = watch_job(c, job.at("id").to_number<std::int64_t>());
    if (!r) return kExitUnreachable;
    if (r->status != 200 || !r->body.is_object()) return report_error(*r);
    job = r->body.get_object();
  }
  return finish_job(c, job);
}

// --param k=v values take the type the task declares (GET /v1/tasks), so "2" reaches an int
// parameter as 2 and a string parameter as "2".
std::optional<json::object> typed_params(const ClientOptions& c, const SubmitOptions& s,
                                         int& exit_code) {
  std::map<std::string, std::string> types;
  if (!s.params.empty()) {
    auto r = call(c, "GET", "/v1/tasks");
    if (!r) {
      exit_code = kExitUnreachable;
      return std::nullopt;
    }
    if (r->status == 200 && r->body.is_object()) {
      for (const json::value& t : r->body.at("tasks").as_array()) {
        if (str(t.at("name")) != s.task) continue;
        for (const json::value& p : t.at("params").as_array()) {
          types[str(p.at("name"))] = str(p.at("type"));
        }
      }
    }
  }
  json::object params;
  for (const std::string& kv : s.params) {
    std::size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      std::cerr << fmt::format("vramq: --param '{}' must be NAME=VALUE\n", kv);
      exit_code = kExitUsage;
      return std::nullopt;
    }
    std::string name = kv.substr(0, eq);
    std::string value = kv.substr(eq + 1);
    const std::string& type = types[name];
    std::int64_t i = 0;
    double d = 0;
    if (type == "int" && std::from_chars(value.data(), value.data() + value.size(), i).ptr ==
                             value.data() + value.size()) {
      params[name] = i;
    } else if (type == "float" &&
               std::from_chars(value.data(), value.data() + value.size(), d).ptr ==
                   value.data() + value.size()) {
      params[name] = d;
    } else {
      params[name] = value;  // the server names the parameter if this is wrong
    }
  }
  return params;
}

}  // namespace

int submit(const ClientOptions& c, const SubmitOptions& s) {
  json::object body;
  if (!s.command.empty()) {
    json::array argv;
    for (const std::string& a : s.command)
      argv.emplace_back(a);
    body["command"] = std::move(argv);
  } else {
    body["task"] = s.task;
    int code = kExitOk;
    auto params = typed_params(c, s, code);
    if (!params) return code;
    body["params"] = std::move(*params);
  }
  if (s.vram_mb) body["vram_mb"] = *s.vram_mb;
  if (s.gpus) body["gpus"] = *s.gpus;
  if (s.priority) body["priority"] = *s.priority;
  if (s.timeout_s) body["timeout_s"] = *s.timeout_s;
  if (s.max_retries) body["max_retries"] = *s.max_retries;
  if (s.retry_delay_s) body["retry_delay_s"] = *s.retry_delay_s;
  if (s.preemptible) body["preemptible"] = *s.preemptible;
  if (!s.after_ok.empty() || !s.after_any.empty()) {
    body["after"] = json::object{{"ok", json::array(s.after_ok.begin(), s.after_ok.end())},
                                 {"any", json::array(s.after_any.begin(), s.after_any.end())}};
  }
  if (!s.name.empty()) body["name"] = s.name;
  for (const auto& [field, pairs, flag] :
       {std::tuple("labels", &s.labels, "--label"), std::tuple("env", &s.env, "--env")}) {
    if (pairs->empty()) continue;
    auto object = key_values(*pairs, flag);
    if (!object) return kExitUsage;
    body[field] = std::move(*object);
  }
  Headers headers;
  if (!s.idempotency_key.empty()) headers.emplace_back("Idempotency-Key", s.idempotency_key);
  std::string text = util::to_json_text(body);
  if (!s.files.empty()) {
    auto form = multipart_submit(text, s.files);
    if (!form) {
      std::cerr << "vramq: " << form.error().message << "\n";
      return kExitUsage;
    }
    headers.emplace_back("Content-Type", "multipart/form-data; boundary=" + form->boundary);
    text = std::move(form->body);
  }
  auto r = call(c, "POST", "/v1/jobs", text, s.files.empty() ? 30s : 600s, {}, headers);
  if (!r) return kExitUnreachable;
  if ((r->status != 200 && r->status != 202) || !r->body.is_object()) return report_error(*r);
  json::object job = r->body.get_object();
  if (!s.wait) {
    if (c.json) {
      std::cout << util::to_json_text(job) << "\n";
    } else {
      std::cout << job_line(job) << "\n";
    }
    return kExitOk;
  }
  return wait_and_finish(c, job);
}

int show(const ClientOptions& c, std::int64_t id) {
  auto r = call(c, "GET", fmt::format("/v1/jobs/{}", id));
  if (!r) return kExitUnreachable;
  if (r->status != 200 || !r->body.is_object()) return report_error(*r);
  if (c.json) {
    std::cout << util::to_json_text(r->body) << "\n";
  } else {
    print_job(r->body.get_object());
  }
  return kExitOk;
}

int wait(const ClientOptions& c, std::int64_t id) {
  InterruptNotice notice(interrupt_notice(id));
  auto r = watch_job(c, id);
  if (!r) return kExitUnreachable;
  if (r->status != 200 || !r->body.is_object()) return report_error(*r);
  return finish_job(c, r->body.get_object());
}

int list(const ClientOptions& c, const ListOptions& lo) {
  const std::string& states = lo.states;
  std::string target = fmt::format("/v1/jobs?limit={}", lo.limit);
  if (!states.empty()) target += "&state=" + query_value(states);
  if (lo.before > 0) target += fmt::format("&before={}", lo.before);
  if (!lo.name.empty()) target += "&name=" + query_value(lo.name);
  if (!lo.label.empty()) target += "&label=" + query_value(lo.label);
  if (!lo.owner.empty()) target += "&owner=" + query_value(lo.owner);
  auto r = call(c, "GET", target);
  if (!r) return kExitUnreachable;
  if (r->status != 200 || !r->body.is_object()) return report_error(*r);
  if (c.json) {
    std::cout << util::to_json_text(r->body) << "\n";
    return kExitOk;
  }
  Table t(
      {"ID", "NAME", "STATE", "TASK", "VRAM", "GPU", "WAITING", "RUN TIME", "SUBMITTED", "ERROR"});
  std::int64_t now = unix_ms_now();
  for (const json::value& jv : r->body.at("jobs").as_array()) {
    const json::object& j = jv.get_object();
    std::string waiting =
        str(j.at("state")) == "queued"
            ? fmt::format("#{} {}", str(j.at("queue_position")), str(j.at("pending_reason")))
            : "-";
    t.add({str(j.at("id")), clip(str(j.at("name")), 24), str(j.at("state")), str(j.at("task")),
           core::format_mb(j.at("vram_mb").to_number<std::int64_t>()), gpu_list(j), waiting,
           run_time(j, now), str(j.at("submitted_at")), clip(str(j.at("error")), 60)});
  }
  std::cout << t.render();
  if (!r->body.at("next").is_null()) {
    std::string same;  // the filters, so that the next page is of the same list
    if (!states.empty()) same += " --state " + states;
    if (!lo.name.empty()) same += " --name '" + lo.name + "'";
    if (!lo.label.empty()) same += " --label '" + lo.label + "'";
    if (!lo.owner.empty()) same += " --owner '" + lo.owner + "'";
    std::cout << fmt::format("(more: vramq ls --before {}{})\n", str(r->body.at("next")), same);
  }
  return kExitOk;
}

int remove(const ClientOptions& c, const std::vector<std::int64_t>& ids) {
  int rc = kExitOk;
  for (std::int64_t id : ids) {
    auto r = call(c, "DELETE", fmt::format("/v1/jobs/{}?purge=1", id));
    if (!r) return kExitUnreachable;
    if (r->status != 204) {
      int code = report_error(*r);
      if (rc == kExitOk) rc = code;
      continue;
    }
    if (c.json) {
      std::cout << util::to_json_text(json::object{{"id", id}, {"removed", true}}) << "\n";
    } else {
      std::cout << fmt::format("job {} removed\n", id);
    }
  }
  return rc;
}

int cancel(const ClientOptions& c, std::int64_t id) {
  auto r = call(c, "DELETE", fmt::format("/v1/jobs/{}", id));
  if (!r) return kExitUnreachable;
  if ((r->status != 200 && r->status != 202) || !r->body.is_object()) return report_error(*r);
  if (c.json) {
    std::cout << util::to_json_text(r->body) << "\n";
  } else {
    std::cout << job_line(r->body.get_object())
              << (r->status == 202 ? ": stopping (SIGTERM sent to its process group)" : "") << "\n";
  }
  return kExitOk;
}

int gpus(const ClientOptions& c) {
  auto r = call(c, "GET", "/v1/gpus");
  if (!r) return kExitUnreachable;
  if (r->status != 200 || !r->body.is_object()) return report_error(*r);
  if (c.json) {
    std::cout << util::to_json_text(r->body) << "\n";
    return kExitOk;
  }
  Table t({"GPU", "NAME", "TOTAL", "USED", "RESERVED", "FOREIGN", "AVAILABLE", "JOBS", "VRAM"});
  for (const json::value& gv : r->body.at("gpus").as_array()) {
    const json::object& g = gv.get_object();
    auto mb = [&](const char* k) { return g.at(k).to_number<std::int64_t>(); };
    std::vector<std::string> jobs;
    for (const json::value& j : g.at("jobs").as_array())
      jobs.push_back(str(j));
    t.add({str(g.at("index")), str(g.at("name")), core::format_mb(mb("total_mb")),
           core::format_mb(mb("used_mb")), core::format_mb(mb("reserved_mb")),
           core::format_mb(mb("foreign_mb")), core::format_mb(mb("available_mb")),
           jobs.empty() ? "-" : fmt::format("{}", fmt::join(jobs, ",")),
           vram_bar(mb("total_mb"), mb("committed_mb"), mb("foreign_mb"), 20)});
  }
  std::cout << t.render();
  for (const json::value& gv : r->body.at("gpus").as_array()) {
    for (const json::value& p : gv.at("foreign_processes").as_array()) {
      std::cout << fmt::format("GPU {}: foreign process {} ({}) uses {}\n", str(gv.at("index")),
                               str(p.at("pid")), str(p.at("name")),
                               p.at("used_mb").is_null()
                                   ? "an unknown amount"
                                   : core::format_mb(p.at("used_mb").to_number<std::int64_t>()));
    }
  }
  std::cout << fmt::format("buffer kept free per GPU: {}; source: {}\n",
                           core::format_mb(r->body.at("buffer_mb").to_number<std::int64_t>()),
                           str(r->body.at("source")));
  return kExitOk;
}

int tasks(const ClientOptions& c) {
  auto r = call(c, "GET", "/v1/tasks");
  if (!r) return kExitUnreachable;
  if (r->status != 200 || !r->body.is_object()) return report_error(*r);
  if (c.json) {
    std::cout << util::to_json_text(r->body) << "\n";
    return kExitOk;
  }
  // One block per task, wrapped to 100 columns: a table of these cells ran past 170.
  constexpr std::size_t kWidth = 100;
  constexpr std::size_t kIndent = 12;
  std::string out;
  for (const json::value& tv : r->body.at("tasks").as_array()) {
    const json::object& task = tv.get_object();
    std::vector<std::string> params;
    for (const json::value& p : task.at("params").as_array()) {
      const json::object& po = p.get_object();
      std::string item = fmt::format("{}: {}", str(po.at("name")), str(po.at("type")));
      if (po.contains("min") || po.contains("max")) {
        item += fmt::format(" {}..{}", po.contains("min") ? str(po.at("min")) : "",
                            po.contains("max") ? str(po.at("max")) : "");
      }
      item += po.contains("default") ? " = " + str(po.at("default")) : " (required)";
      params.push_back(std::move(item));
    }
    const json::object& v = task.at("vram").get_object();
    std::string rule = fmt::format("{} MiB", str(v.at("base_mb")));
    if (!str(v.at("unit")).empty()) {
      rule += fmt::format(" + {} MiB x {}", str(v.at("per_unit_mb")), str(v.at("unit")));
    }
    // Learned footprints per bucket: "size=1000: 1100 MiB (5 runs)", or the samples so far.
    std::vector<std::string> learned;
    for (const json::value& lv : task.at("learned").as_array()) {
      const json::object& l = lv.get_object();
      std::string bucket = str(l.at("bucket")).empty() ? "all" : str(l.at("bucket"));
      learned.push_back(
          l.at("reserve_mb").is_null()
              ? fmt::format("{}: {} run(s), not yet", bucket, str(l.at("samples")))
              : fmt::format("{}: {} ({} runs)", bucket,
                            core::format_mb(l.at("reserve_mb").to_number<std::int64_t>()),
                            str(l.at("samples"))));
    }
    if (!task.at("learn").as_bool()) learned = {"off (the rule is always used)"};
    if (learned.empty()) learned = {"none yet"};
    std::string name = str(task.at("name"));
    std::string description = str(task.at("description"));
    out += wrap(name + std::string(name.size() < kIndent ? kIndent - name.size() : 1, ' '),
                split_words(description == "-" ? "" : description), kWidth, kIndent, " ");
    out += wrap("  params    ", params, kWidth, kIndent, "; ");
    out += wrap("  vram      ", {rule}, kWidth, kIndent, "");
    out += wrap("  learned   ", learned, kWidth, kIndent, "; ");
  }
  std::cout << out;
  return kExitOk;
}

}  // namespace vramq::cli
