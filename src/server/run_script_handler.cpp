// POST /run-script: the seed article's endpoint, kept so that its clients move over unchanged.
// Its bodies are FastAPI's, not problem+json: {"output": STDOUT} on success,
// {"detail": "Subprocess exited with N: STDERR"} (STDERR as Python prints bytes) on failure,
// {"detail": "Queue is full. Try again later."} when the queue is full.
#include <fmt/format.h>
#include <boost/json.hpp>

#include "server/client_wait.hpp"
#include "server/json_codec.hpp"
#include "server/router.hpp"
#include "util/json_text.hpp"

namespace vramq::server {
namespace json = boost::json;

namespace {

Response detail(int status, json::value d) {
  json::object o;
  o["detail"] = std::move(d);
  return Response{.status = status, .body = util::to_json_text(o)};
}

Response detail_text(int status, std::string_view text) {
  return detail(status, json::string(text));
}

// pydantic's validation error shape, as FastAPI 0.92 answers a bad body. A body that is not
// JSON at all is located at ["body", 0], as FastAPI does.
Response validation_error(std::string_view msg, std::string_view type, bool whole_body = false) {
  json::object e;
  e["loc"] = whole_body ? json::array{"body", 0} : json::array{"body", "command"};
  e["msg"] = msg;
  e["type"] = type;
  return detail(422, json::array{e});
}

}  // namespace

std::string python_bytes_repr(std::string_view bytes) {
  // Python's repr(bytes): single quotes unless the data holds ' and no ".
  bool has_single = bytes.find('\'') != std::string_view::npos;
  bool has_double = bytes.find('"') != std::string_view::npos;
  char quote = has_single && !has_double ? '"' : '\'';
  std::string out = "b";
  out += quote;
  for (unsigned char c : bytes) {
    if (c == static_cast<unsigned char>(quote) || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c < 0x20 || c >= 0x7f) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  out += quote;
  return out;
}

boost::asio::awaitable<Response> handle_run_script(const Request& req, service::Orchestrator& o,
                                                   HeldRequests& held) {
  if (!o.config().allow_raw_commands) {
    co_return detail_text(403, "raw commands are disabled on this server (--allow-raw-commands)");
  }
  // The request holds its connection until its job ends: counted before anything is submitted.
  HeldRequests::Taken place = held.take(0, req.principal);
  if (!place.ticket) {
    co_return detail_text(429, fmt::format("you already hold {} requests open (log followers and "
                                           "waits): close one or try again later",
                                           held.limits().per_owner));
  }
  boost::system::error_code ec;
  json::value body = json::parse(req.body, ec);
  if (ec)
    co_return validation_error(fmt::format("invalid JSON: {}", ec.message()),
                               "value_error.jsondecode", true);
  const json::value* command =
      body.is_object() ? body.get_object().if_contains("command") : nullptr;
  if (command == nullptr) co_return validation_error("field required", "value_error.missing");
  if (!command->is_array())
    co_return validation_error("value is not a valid list", "type_error.list");
  service::SubmitRequest submit;
  submit.owner = req.principal;
  for (const json::value& a : command->get_array()) {
    if (!a.is_string()) co_return validation_error("str type expected", "type_error.str");
    submit.command.emplace_back(a.get_string());
  }
  if (submit.command.empty() || submit.command[0].empty()) {
    co_return validation_error("the command needs a program", "value_error");
  }
  auto submitted = co_await o.submit(std::move(submit));
  if (!submitted) {
    switch (submitted.error().code) {
      case service::SubmitErrc::queue_full:
        co_return detail_text(429, "Queue is full. Try again later.");
      case service::SubmitErrc::draining:
      case service::SubmitErrc::store_unavailable:
        co_return detail_text(503, submitted.error().detail);
      case service::SubmitErrc::storage_full:
        co_return detail_text(507, submitted.error().detail);
      case service::SubmitErrc::unprocessable:
        co_return validation_error(submitted.error().detail, "value_error");
      case service::SubmitErrc::forbidden:  // an owner's limit (max_priority)
        co_return detail_text(403, submitted.error().detail);
      default:
        co_return detail_text(500, submitted.error().detail);
    }
  }
  // Like the seed, the request waits for its job however long it runs.
  core::JobId id = submitted->job.id;
  service::JobView job = std::move(*submitted);
  while (!core::is_terminal(job.job.state)) {
    auto op = o.wait(id, std::chrono::hours(1));
    auto left = co_await unless_client_leaves(std::move(op), req.client);
    if (!left) co_return Response{};  // the client left; its job runs on (GET /v1/jobs/ID)
    auto& waited = *left;
    if (!waited || !*waited) co_return detail_text(500, "the job could not be read back");
    job = std::move(**waited);
  }
  if (job.job.state == core::JobState::succeeded) {
    json::object ok;
    ok["output"] = job.job.output;
    co_return Response{.status = 200, .body = util::to_json_text(ok)};
  }
  if (job.job.reason == core::EndReason::spawn_failed) co_return detail_text(500, job.job.error);
  // asyncio's returncode: the exit code, or minus the signal that ended the process.
  int code = job.job.exit_code ? *job.job.exit_code : -job.job.signal.value_or(0);
  std::string err = co_await o.files().log_tail(id, "stderr", 64 << 10);
  co_return detail_text(500,
                        fmt::format("Subprocess exited with {}: {}", code, python_bytes_repr(err)));
}

}  // namespace vramq::server
