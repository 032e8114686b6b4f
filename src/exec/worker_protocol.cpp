#include "exec/worker_protocol.hpp"

#include <fmt/format.h>
#include <array>
#include <boost/json.hpp>
#include <cmath>

namespace vramq::exec {
namespace json = boost::json;

namespace {

constexpr std::array<std::string_view, 7> kTypeNames = {"ready",     "progress", "result", "error",
                                                        "cancelled", "pong",     "fatal"};

std::string line(const json::object& o) {
  std::string out = json::serialize(o);
  out.push_back('\n');
  return out;
}

core::Result<json::object> parse_object(std::string_view text) {
  if (text.size() > kMaxWorkerLineBytes) {
    return core::Error{
        fmt::format("a line of {} bytes (at most {})", text.size(), kMaxWorkerLineBytes)};
  }
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return core::Error{fmt::format("not JSON: {}", ec.message())};
  if (!v.is_object()) return core::Error{"not a JSON object"};
  return std::move(v.as_object());
}

std::optional<std::string_view> string_field(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_string()) return std::nullopt;
  return std::string_view(v->as_string());
}

// An integer field (absent: nullopt), also as an integral double (JavaScript writes 3.0 as 3).
core::Result<std::optional<std::int64_t>> int_field(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) return std::optional<std::int64_t>{};
  if (v->is_int64()) return std::optional<std::int64_t>{v->as_int64()};
  if (v->is_uint64() && v->as_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
    return std::optional<std::int64_t>{static_cast<std::int64_t>(v->as_uint64())};
  }
  if (v->is_double() && std::trunc(v->as_double()) == v->as_double() &&
      std::abs(v->as_double()) < 9.0e15) {
    return std::optional<std::int64_t>{static_cast<std::int64_t>(v->as_double())};
  }
  return core::Error{fmt::format("\"{}\" must be an integer", key)};
}

core::Result<core::JobId> job_field(const json::object& o) {
  auto job = int_field(o, "job");
  if (!job) return job.error();
  if (!*job || **job <= 0) return core::Error{"\"job\" must be the run's job id"};
  return **job;
}

}  // namespace

std::string_view to_string(WorkerMessageType t) {
  return kTypeNames.at(static_cast<std::size_t>(t));
}

std::string init_line(const WorkerInit& init) {
  return line({{"type", "init"},
               {"protocol", kWorkerProtocolVersion},
               {"worker", init.worker},
               {"task", init.task},
               {"gpu", init.gpu}});
}

std::string run_line(const WorkerRun& run) {
  json::object env;
  for (const auto& [k, v] : run.env)
    env[k] = v;
  boost::system::error_code ec;
  json::value params = json::parse(run.params_json.empty() ? "{}" : run.params_json, ec);
  if (ec || !params.is_object()) params = json::object{};
  return line({{"type", "run"},
               {"job", run.job},
               {"attempt", run.attempt},
               {"params", std::move(params)},
               {"job_dir", run.job_dir},
               {"deadline_ms", run.deadline_ms},
               {"vram_mb", run.vram_mb},
               {"env", std::move(env)}});
}

std::string cancel_line(core::JobId job) {
  return line({{"type", "cancel"}, {"job", job}});
}
std::string ping_line(std::uint64_t seq) {
  return line({{"type", "ping"}, {"seq", seq}});
}
std::string shutdown_line() {
  return line({{"type", "shutdown"}});
}

core::Result<WorkerMessage> parse_worker_message(std::string_view text) {
  auto parsed = parse_object(text);
  if (!parsed) return parsed.error();
  const json::object& o = *parsed;
  std::optional<std::string_view> type = string_field(o, "type");
  if (!type) return core::Error{"no \"type\""};
  auto it = std::ranges::find(kTypeNames, *type);
  if (it == kTypeNames.end()) {
    return core::Error{fmt::format("unknown type \"{}\"", type->substr(0, 64))};
  }
  WorkerMessage m{.type = static_cast<WorkerMessageType>(it - kTypeNames.begin())};
  // A string field (absent or null: ""); nullopt when it is something else.
  auto text_of = [&](std::string_view key) -> std::optional<std::string> {
    const json::value* v = o.if_contains(key);
    if (v == nullptr || v->is_null()) return std::string{};
    if (!v->is_string()) return std::nullopt;
    return std::string(v->as_string());
  };
  auto not_text = [](std::string_view key) {
    return core::Error{fmt::format("\"{}\" must be a string", key)};
  };
  switch (m.type) {
    case WorkerMessageType::ready:
      break;
    case WorkerMessageType::pong: {
      auto seq = int_field(o, "seq");
      if (!seq) return seq.error();
      if (!*seq || **seq < 0) return core::Error{"a pong needs the ping's \"seq\""};
      m.seq = static_cast<std::uint64_t>(**seq);
      break;
    }
    case WorkerMessageType::fatal: {
      auto message = text_of("message");
      if (!message) return not_text("message");
      m.text = std::move(*message);
      break;
    }
    case WorkerMessageType::progress:
    case WorkerMessageType::result:
    case WorkerMessageType::error:
    case WorkerMessageType::cancelled: {
      auto job = job_field(o);
      if (!job) return job.error();
      m.job = *job;
      std::string_view key = m.type == WorkerMessageType::result ? "output" : "message";
      auto message = text_of(key);
      if (!message) return not_text(key);
      m.text = std::move(*message);
      if (m.type == WorkerMessageType::error) {
        const json::value* r = o.if_contains("retryable");
        if (r != nullptr && !r->is_bool())
          return core::Error{"\"retryable\" must be true or false"};
        m.retryable = r != nullptr && r->as_bool();
      }
      if (m.type == WorkerMessageType::progress) {
        if (const json::value* f = o.if_contains("fraction"); f != nullptr && !f->is_null()) {
          if (!f->is_number()) return core::Error{"\"fraction\" must be a number"};
          double d = f->to_number<double>();
          if (!std::isfinite(d) || d < 0 || d > 1) {
            return core::Error{"\"fraction\" must be from 0 to 1"};
          }
          m.fraction = d;
        }
      }
      break;
    }
  }
  return m;
}

core::Result<WorkerCommand> parse_worker_command(std::string_view text) {
  auto parsed = parse_object(text);
  if (!parsed) return parsed.error();
  const json::object& o = *parsed;
  std::optional<std::string_view> type = string_field(o, "type");
  WorkerCommand c;
  if (type == "init") {
    c.type = WorkerCommand::Type::init;
  } else if (type == "run") {
    c.type = WorkerCommand::Type::run;
    auto job = job_field(o);
    if (!job) return job.error();
    c.job = *job;
    const json::value* params = o.if_contains("params");
    c.params_json = params != nullptr && params->is_object() ? json::serialize(*params) : "{}";
    c.job_dir = std::string(string_field(o, "job_dir").value_or(""));
    auto deadline = int_field(o, "deadline_ms");
    if (!deadline) return deadline.error();
    c.deadline_ms = deadline->value_or(0);
  } else if (type == "cancel") {
    c.type = WorkerCommand::Type::cancel;
    auto job = job_field(o);
    if (!job) return job.error();
    c.job = *job;
  } else if (type == "ping") {
    c.type = WorkerCommand::Type::ping;
    auto seq = int_field(o, "seq");
    if (!seq) return seq.error();
    c.seq = static_cast<std::uint64_t>(std::max<std::int64_t>(0, seq->value_or(0)));
  } else if (type == "shutdown") {
    c.type = WorkerCommand::Type::shutdown;
  } else {
    return core::Error{"unknown or missing \"type\""};
  }
  return c;
}

std::string ready_line() {
  return line({{"type", "ready"}});
}
std::string result_line(core::JobId job, std::string_view output) {
  return line({{"type", "result"}, {"job", job}, {"output", output}});
}
std::string error_line(core::JobId job, std::string_view message, bool retryable) {
  return line({{"type", "error"}, {"job", job}, {"message", message}, {"retryable", retryable}});
}
std::string cancelled_line(core::JobId job) {
  return line({{"type", "cancelled"}, {"job", job}});
}
std::string pong_line(std::uint64_t seq) {
  return line({{"type", "pong"}, {"seq", seq}});
}
std::string progress_line(core::JobId job, double fraction, std::string_view message) {
  return line({{"type", "progress"}, {"job", job}, {"fraction", fraction}, {"message", message}});
}

}  // namespace vramq::exec
