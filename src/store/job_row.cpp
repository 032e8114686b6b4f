#include "store/job_row.hpp"

#include <boost/json.hpp>

namespace vramq::store {
namespace json = boost::json;
using core::Job;

namespace {

std::string encode_strings(const std::vector<std::string>& strings) {
  json::array a;
  for (const std::string& s : strings)
    a.emplace_back(s);
  return json::serialize(a);
}

std::string encode_env(const std::vector<std::pair<std::string, std::string>>& env) {
  json::array a;
  for (const auto& [k, v] : env)
    a.push_back(json::array{json::string(k), json::string(v)});
  return json::serialize(a);
}

// Rows are written only by this file, so a decoding failure means a corrupt database.
std::vector<std::string> decode_strings(const std::string& text) {
  std::vector<std::string> out;
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (!ec && v.is_array()) {
    for (const json::value& s : v.as_array()) {
      if (s.is_string()) out.emplace_back(s.as_string());
    }
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> decode_env(const std::string& text) {
  std::vector<std::pair<std::string, std::string>> out;
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (!ec && v.is_array()) {
    for (const json::value& kv : v.as_array()) {
      if (kv.is_array() && kv.as_array().size() == 2 && kv.as_array()[0].is_string() &&
          kv.as_array()[1].is_string()) {
        out.emplace_back(std::string(kv.as_array()[0].as_string()),
                         std::string(kv.as_array()[1].as_string()));
      }
    }
  }
  return out;
}

std::string encode_ids(const std::vector<std::int64_t>& ids) {
  json::array a;
  for (std::int64_t id : ids)
    a.emplace_back(id);
  return json::serialize(a);
}

std::vector<std::int64_t> decode_ids(const std::string& text) {
  std::vector<std::int64_t> out;
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (!ec && v.is_array()) {
    for (const json::value& id : v.as_array()) {
      if (id.is_int64()) out.push_back(id.get_int64());
    }
  }
  return out;
}

// Labels as a JSON object (queried with json_extract when a list filters by one).
std::string encode_labels(const std::vector<std::pair<std::string, std::string>>& labels) {
  json::object o;
  for (const auto& [k, v] : labels)
    o[k] = v;
  return json::serialize(o);
}

std::vector<std::pair<std::string, std::string>> decode_labels(const std::string& text) {
  std::vector<std::pair<std::string, std::string>> out;
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (!ec && v.is_object()) {
    for (const auto& [k, val] : v.as_object()) {
      if (val.is_string()) out.emplace_back(std::string(k), std::string(val.as_string()));
    }
  }
  std::ranges::sort(out);
  return out;
}

std::optional<std::int64_t> opt(const std::optional<int>& v) {
  return v ? std::optional<std::int64_t>(*v) : std::nullopt;
}

std::optional<int> opt_int(const Stmt& s, int col) {
  auto v = s.opt_int64(col);
  return v ? std::optional<int>(static_cast<int>(*v)) : std::nullopt;
}

}  // namespace

void bind_job(Stmt& s, const Job& j) {
  int i = 1;
  s.bind(i++, j.id);
  s.bind(i++, core::to_string(j.state));
  s.bind(i++, core::to_string(j.reason));
  s.bind(i++, j.spec.task);
  s.bind(i++, j.spec.params_json);
  s.bind(i++, encode_strings(j.spec.argv));
  s.bind(i++, j.spec.cwd);
  // Client-supplied values (tokens such as HF_TOKEN) are kept only while the job may still run:
  // an ended job's row keeps the names, never the values.
  s.bind(i++,
         encode_env(core::is_terminal(j.state) ? core::without_values(j.spec.env) : j.spec.env));
  s.bind(i++, j.spec.vram_mb);
  s.bind(i++, std::int64_t{j.spec.priority});
  s.bind(i++, j.spec.timeout_s);
  s.bind(i++, std::int64_t{j.spec.max_retries});
  s.bind(i++, opt(j.gpu));
  s.bind(i++, std::int64_t{j.attempt});
  s.bind(i++, j.submitted_at_ms);
  s.bind(i++, j.queued_at_ms);
  s.bind(i++, j.started_at_ms);
  s.bind(i++, j.finished_at_ms);
  s.bind(i++, opt(j.exit_code));
  s.bind(i++, opt(j.signal));
  s.bind(i++, j.error);
  s.bind(i++, j.peak_vram_mb);
  s.bind(i++, j.output);
  s.bind(i++, j.pid);
  s.bind(i++, j.pid_start_ticks);
  s.bind(i++, encode_strings(j.warnings));
  s.bind(i++, std::int64_t{j.output_truncated ? 1 : 0});
  s.bind(i++, j.spec.retry_delay_s);
  s.bind(i++, encode_ids(j.spec.after_ok));
  s.bind(i++, encode_ids(j.spec.after_any));
  s.bind(i++, j.not_before_ms);
  s.bind(i++, j.spec.name);
  s.bind(i++, encode_labels(j.spec.labels));
  s.bind(i++, j.spec.owner);
  s.bind(i++, std::int64_t{j.spec.gpus});
  s.bind(i++, encode_ids(std::vector<std::int64_t>(j.gpus.begin(), j.gpus.end())));
  s.bind(i++, j.worker);
  s.bind(i++, std::int64_t{j.restart_requeued ? 1 : 0});
  s.bind(i++, std::int64_t{j.spec.preemptible ? 1 : 0});
  s.bind(i++, std::int64_t{j.borrowed ? 1 : 0});
  s.bind(i++, std::int64_t{j.preemptions});
}

Job read_job(const Stmt& s) {
  Job j;
  int c = 0;
  j.id = s.int64(c++);
  j.state = core::parse_job_state(s.text(c++)).value_or(core::JobState::failed);
  j.reason = core::parse_end_reason(s.text(c++)).value_or(core::EndReason::none);
  j.spec.task = s.text(c++);
  j.spec.params_json = s.text(c++);
  j.spec.argv = decode_strings(s.text(c++));
  j.spec.cwd = s.text(c++);
  j.spec.env = decode_env(s.text(c++));
  j.spec.vram_mb = s.int64(c++);
  j.spec.priority = static_cast<int>(s.int64(c++));
  j.spec.timeout_s = s.int64(c++);
  j.spec.max_retries = static_cast<int>(s.int64(c++));
  j.gpu = opt_int(s, c++);
  j.attempt = static_cast<int>(s.int64(c++));
  j.submitted_at_ms = s.int64(c++);
  j.queued_at_ms = s.int64(c++);
  j.started_at_ms = s.int64(c++);
  j.finished_at_ms = s.int64(c++);
  j.exit_code = opt_int(s, c++);
  j.signal = opt_int(s, c++);
  j.error = s.text(c++);
  j.peak_vram_mb = s.opt_int64(c++);
  j.output = s.text(c++);
  j.pid = s.int64(c++);
  j.pid_start_ticks = s.int64(c++);
  j.warnings = decode_strings(s.text(c++));
  j.output_truncated = s.int64(c++) != 0;
  j.spec.retry_delay_s = s.int64(c++);
  j.spec.after_ok = decode_ids(s.text(c++));
  j.spec.after_any = decode_ids(s.text(c++));
  j.not_before_ms = s.int64(c++);
  j.spec.name = s.text(c++);
  j.spec.labels = decode_labels(s.text(c++));
  j.spec.owner = s.text(c++);
  j.spec.gpus = static_cast<int>(s.int64(c++));
  for (std::int64_t g : decode_ids(s.text(c++)))
    j.gpus.push_back(static_cast<int>(g));
  j.worker = s.int64(c++);
  j.restart_requeued = s.int64(c++) != 0;
  j.spec.preemptible = s.int64(c++) != 0;
  j.borrowed = s.int64(c++) != 0;
  j.preemptions = static_cast<int>(s.int64(c++));
  if (j.gpus.empty() && j.gpu) j.gpus.push_back(*j.gpu);  // rows from before schema 10
  return j;
}

}  // namespace vramq::store
