// POST /v1/jobs and GET /v1/jobs/{id}.
#include <fmt/format.h>
#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <limits>

#include "server/client_wait.hpp"
#include "server/json_codec.hpp"
#include "server/problem.hpp"
#include "server/query_params.hpp"
#include "server/router.hpp"
#include "server/upload_reader.hpp"
#include "server/visibility.hpp"
#include "util/json_text.hpp"
#include "util/sha256.hpp"

namespace vramq::server {
namespace {

constexpr std::int64_t kMaxWaitS = 3600;

// ?wait=S: seconds to hold the answer until the job ends (0..3600, fractions allowed).
boost::system::result<std::chrono::milliseconds, Response> wait_param(const Request& req) {
  auto text = req.query_param("wait");
  if (!text) return std::chrono::milliseconds(0);
  double s = -1;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), s);
  if (ec != std::errc{} || end != text->data() + text->size() || !(s >= 0) || s > kMaxWaitS) {
    return problem(
        Problem::bad_request,
        fmt::format("wait must be a number of seconds from 0 to {}, got '{}'", kMaxWaitS, *text),
        "wait");
  }
  return std::chrono::milliseconds(static_cast<std::int64_t>(s * 1000));
}

boost::system::result<std::vector<core::JobState>, Response> parse_states(const Request& req) {
  std::vector<core::JobState> states;
  auto text = req.query_param("state");
  if (!text || text->empty()) {
    for (int s = 0; s <= static_cast<int>(core::JobState::timed_out); ++s) {
      states.push_back(static_cast<core::JobState>(s));
    }
    return states;
  }
  std::string_view rest = *text;
  while (true) {
    std::size_t comma = rest.find(',');
    std::string_view name = rest.substr(0, comma);
    auto st = core::parse_job_state(name);
    if (!st) {
      return problem(Problem::bad_request,
                     fmt::format("state '{}' is not one of queued, running, succeeded, failed, "
                                 "cancelled, timed_out",
                                 name),
                     "state");
    }
    states.push_back(*st);
    if (comma == std::string_view::npos) break;
    rest = rest.substr(comma + 1);
  }
  return states;
}

// Idempotency-Key: 1..255 visible ASCII characters.
boost::system::result<std::string, Response> idempotency_key(const Request& req) {
  using R = boost::system::result<std::string, Response>;
  auto key = req.header("idempotency-key");
  if (!key) return R(boost::system::in_place_value);
  bool ok = !key->empty() && key->size() <= 255 &&
            std::ranges::all_of(*key, [](unsigned char c) { return c > 0x20 && c < 0x7f; });
  if (!ok) {
    return problem(Problem::bad_request,
                   "Idempotency-Key must be 1 to 255 visible ASCII characters", "Idempotency-Key");
  }
  return R(boost::system::in_place_value, *key);
}

// 403 for acting on another token holder's job.
Response not_yours(core::JobId id, const core::Job& job, std::string_view verb) {
  std::string owner = job.spec.owner.empty() ? "no token holder" : job.spec.owner;
  return problem(Problem::forbidden,
                 fmt::format("job {} belongs to {}: only its owner or an admin token may {} it", id,
                             owner, verb),
                 "id");
}

// The job as the request's sender may see it (server/visibility.hpp).
boost::json::object job_json_for(const Request& req, const core::Config& config,
                                 const service::JobView& v, bool with_output = true) {
  boost::json::object o = job_to_json(v, with_output);
  if (!reads_all_of(req, v.job.spec.owner, config)) redact_job(o);
  return o;
}

Response job_response(const Request& req, const core::Config& config, int status,
                      const service::JobView& v) {
  return Response{.status = status, .body = util::to_json_text(job_json_for(req, config, v))};
}

Response submit_error(const service::SubmitError& e) {
  switch (e.code) {
    case service::SubmitErrc::forbidden:
      return problem(Problem::forbidden, e.detail, e.field);
    case service::SubmitErrc::unprocessable:
      return problem(Problem::unprocessable, e.detail, e.field);
    case service::SubmitErrc::queue_full: {
      Response r = problem(Problem::too_many_requests, e.detail);
      r.headers.emplace_back("Retry-After", std::to_string(e.retry_after_s));
      return r;
    }
    case service::SubmitErrc::draining:
      return problem(Problem::unavailable, e.detail);
    case service::SubmitErrc::store_failed:
      return problem(Problem::internal, e.detail);
    case service::SubmitErrc::conflict:
      return problem(Problem::conflict, e.detail, e.field);
    case service::SubmitErrc::storage_full:
    case service::SubmitErrc::store_unavailable: {
      Response r =
          problem(e.code == service::SubmitErrc::storage_full ? Problem::insufficient_storage
                                                              : Problem::unavailable,
                  e.detail);
      r.headers.emplace_back("Retry-After", std::to_string(e.retry_after_s));
      return r;
    }
  }
  return problem(Problem::internal, e.detail);
}

// dry_run=1: what would happen, as 200 {"decision": "admit" | "queue" | "reject", ...}.
Response dry_run_response(const Response& refused) {
  boost::json::object o;
  o["decision"] = "reject";
  o["status"] = refused.status;
  boost::system::error_code ec;
  o["problem"] = boost::json::parse(refused.body, ec);
  for (const auto& [k, v] : refused.headers) {
    if (k == "Retry-After") o["retry_after_s"] = std::stoll(v);
  }
  return Response{.body = util::to_json_text(o)};
}

Response dry_run_response(const service::DryRun& d) {
  boost::json::object o;
  o["vram_mb"] = d.vram_mb;
  if (d.start) {
    o["decision"] = "admit";
    o["gpu"] = d.start->gpu;
    std::vector<int> all = d.start->all_gpus();
    o["gpus"] = boost::json::array(all.begin(), all.end());
    o["available_mb"] = d.start->available_mb;
    o["leftover_mb"] = d.start->leftover_mb;
  } else if (d.pending) {
    o["decision"] = "queue";
    o["queue_position"] = d.pending->position >= 0 ? boost::json::value(d.pending->position)
                                                   : boost::json::value(nullptr);
    o["pending_reason"] = core::to_string(d.pending->reason);
    o["best_available_mb"] = d.pending->best_available_mb;
    o["predicted_start"] = d.predicted_start_ms > 0
                               ? boost::json::value(rfc3339(d.predicted_start_ms))
                               : boost::json::value(nullptr);
  }
  return Response{.body = util::to_json_text(o)};
}

}  // namespace

boost::system::result<core::JobId, Response> parse_id(std::string_view text) {
  core::JobId id = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc{} || end != text.data() + text.size() || id <= 0) {
    return problem(Problem::not_found,
                   fmt::format("no job '{}': job ids are positive integers", text), "id");
  }
  return boost::system::result<core::JobId, Response>(boost::system::in_place_value, id);
}

boost::asio::awaitable<Response> handle_submit(const Request& req, service::Orchestrator& o,
                                               HeldRequests& held) {
  auto wait = wait_param(req);
  if (!wait) co_return wait.error();
  auto dry_flag = bool_param(req, "dry_run", false);
  if (!dry_flag) co_return dry_flag.error();
  bool dry = *dry_flag;
  auto key = idempotency_key(req);
  if (!key) co_return key.error();
  auto parsed = parse_submit(req.body);
  if (!parsed) {
    Response bad = problem(Problem::bad_request, parsed.error().message, parsed.error().field);
    if (dry) co_return dry_run_response(bad);
    co_return bad;
  }
  parsed->owner = req.principal;
  parsed->idempotency_key = std::move(*key);
  parsed->inputs = req.inputs;
  if (std::optional<Response> refused = co_await stage_data_urls(*parsed, o)) {
    if (dry) co_return dry_run_response(*refused);
    co_return *refused;
  }
  if (!parsed->idempotency_key.empty()) {
    // A fingerprint of what was sent: with files, of the job's JSON and each file (whatever the
    // multipart boundaries of a retry).
    parsed->body_hash =
        req.inputs ? "sha256-files:" + req.inputs->digest : "sha256:" + util::sha256_hex(req.body);
  }
  if (dry) {
    auto d = o.dry_run(std::move(*parsed));
    co_return d ? dry_run_response(*d) : dry_run_response(submit_error(d.error()));
  }
  auto submitted = co_await o.submit(std::move(*parsed));
  if (!submitted) co_return submit_error(submitted.error());
  service::JobView v = std::move(*submitted);
  if (wait->count() > 0 && !core::is_terminal(v.job.state)) {
    // Accepted either way: over the cap of waiters it answers at once (202) instead of waiting.
    HeldRequests::Taken place = held.take(v.job.id, req.principal);
    if (place.ticket) {
      auto op = o.wait(v.job.id, *wait);
      auto waited = co_await unless_client_leaves(std::move(op), req.client);
      if (!waited) co_return Response{};  // nobody to answer: the connection closes
      if (*waited && **waited) v = std::move(***waited);
    }
  }
  Response r = job_response(req, o.config(), core::is_terminal(v.job.state) ? 200 : 202, v);
  r.headers.emplace_back("Location", fmt::format("/v1/jobs/{}", v.job.id));
  if (v.replayed) r.headers.emplace_back("Idempotent-Replayed", "true");
  co_return r;
}

boost::asio::awaitable<Response> handle_get_job(const Request& req, std::string_view id_text,
                                                service::Orchestrator& o, HeldRequests& held) {
  auto id = parse_id(id_text);
  if (!id) co_return id.error();
  auto wait = wait_param(req);
  if (!wait) co_return wait.error();
  std::unique_ptr<HeldRequests::Ticket> ticket;
  if (wait->count() > 0) {
    HeldRequests::Taken place = held.take(*id, req.principal);
    if (!place.ticket) co_return held_refused(*place.refusal, held.limits(), *id);
    ticket = std::move(place.ticket);
  }
  // Raced with the client's hangup only when it waits: a plain read is answered even to a
  // client that half-closed after sending its request.
  Client* watch = wait->count() > 0 ? req.client : nullptr;
  auto op = o.wait(*id, *wait);
  auto waited = co_await unless_client_leaves(std::move(op), watch);
  if (!waited) co_return Response{};  // nobody to answer: the connection closes
  auto& found = *waited;
  if (!found) co_return problem(Problem::internal, found.error().message);
  if (!*found) co_return problem(Problem::not_found, fmt::format("no job {}", *id), "id");
  co_return job_response(req, o.config(), 200, **found);
}

boost::asio::awaitable<Response> handle_purge(core::JobId id, const service::Caller& caller,
                                              service::Orchestrator& o) {
  auto r = co_await o.purge(id, caller);
  if (!r) co_return problem(Problem::internal, r.error().message);
  switch (r->outcome) {
    case service::PurgeOutcome::purged:
      co_return Response{.status = 204, .content_type = "", .body = {}};
    case service::PurgeOutcome::active:
      co_return problem(Problem::conflict,
                        fmt::format("job {} has not ended: cancel it first, then remove it", id),
                        "id");
    case service::PurgeOutcome::forbidden:
      co_return not_yours(id, r->job->job, "remove");
    case service::PurgeOutcome::not_found:
      break;
  }
  co_return problem(Problem::not_found, fmt::format("no job {}", id), "id");
}

boost::asio::awaitable<Response> handle_cancel(const Request& req, std::string_view id_text,
                                               service::Orchestrator& o) {
  auto id = parse_id(id_text);
  if (!id) co_return id.error();
  auto purge = bool_param(req, "purge", false);
  if (!purge) co_return purge.error();
  if (*purge) {
    service::Caller who{.name = req.principal, .admin = req.admin()};
    co_return co_await handle_purge(*id, who, o);
  }
  // A named local, not a temporary: g++ 12 destroys a prvalue coroutine argument twice.
  service::Caller caller{.name = req.principal, .admin = req.admin()};
  auto r = co_await o.cancel(*id, caller);
  if (!r) co_return problem(Problem::internal, r.error().message);
  switch (r->outcome) {
    case service::CancelOutcome::cancelled:
      co_return job_response(req, o.config(), 200, *r->job);
    case service::CancelOutcome::stopping:
      co_return job_response(req, o.config(), 202, *r->job);
    case service::CancelOutcome::already_ended:
      co_return problem(
          Problem::conflict,
          fmt::format("job {} already ended ({})", *id, core::to_string(r->job->job.state)), "id");
    case service::CancelOutcome::forbidden:
      co_return not_yours(*id, r->job->job, "cancel");
    case service::CancelOutcome::not_found:
      break;
  }
  co_return problem(Problem::not_found, fmt::format("no job {}", *id), "id");
}

boost::asio::awaitable<Response> handle_list(const Request& req, service::Orchestrator& o) {
  auto states = parse_states(req);
  if (!states) co_return states.error();
  auto limit = int_param(req, "limit", 1, 1000, 50);
  if (!limit) co_return limit.error();
  auto before = int_param(req, "before", 1, std::numeric_limits<std::int64_t>::max(), 0);
  if (!before) co_return before.error();
  service::ListFilter filter{.states = std::move(*states),
                             .name = std::string(req.query_param("name").value_or("")),
                             .owner = std::string(req.query_param("owner").value_or("")),
                             .label = std::nullopt};
  if (auto label = req.query_param("label")) {
    std::size_t eq = label->find('=');
    if (eq == std::string_view::npos || !valid_label_key(label->substr(0, eq))) {
      co_return problem(Problem::bad_request,
                        fmt::format("label must be KEY=VALUE with a valid key, got '{}'", *label),
                        "label");
    }
    filter.label.emplace(std::string(label->substr(0, eq)), std::string(label->substr(eq + 1)));
  }
  // A name or label is its owner's: matched only on jobs the sender may read, so that neither
  // the page nor its `next` cursor tells a reader another owner's names or labels.
  if ((!filter.name.empty() || filter.label) && !reads_every_job(req, o.config())) {
    if (!filter.owner.empty() && filter.owner != req.principal) {
      co_return Response{.body = R"({"jobs":[],"next":null})"};
    }
    filter.owner = req.principal;
  }
  auto r = co_await o.list(std::move(filter), *before, static_cast<int>(*limit));
  if (!r) co_return problem(Problem::internal, r.error().message);
  boost::json::array jobs;
  for (const service::JobView& v : r->jobs)
    jobs.push_back(job_json_for(req, o.config(), v, false));
  boost::json::object body;
  body["jobs"] = std::move(jobs);
  body["next"] = r->next ? boost::json::value(*r->next) : boost::json::value(nullptr);
  co_return Response{.body = util::to_json_text(body)};
}

}  // namespace vramq::server
