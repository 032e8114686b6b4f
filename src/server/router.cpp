#include "server/router.hpp"

#include "core/text.hpp"
#include "server/upload_reader.hpp"

#include <fmt/format.h>

#include "server/problem.hpp"
#include "server/query_params.hpp"

namespace vramq::server {

std::optional<std::string_view> Request::query_param(std::string_view name) const {
  for (const auto& [k, v] : query) {
    if (k == name) return std::string_view(v);
  }
  return std::nullopt;
}

std::optional<std::string_view> Request::header(std::string_view lower_name) const {
  for (const auto& [k, v] : headers) {
    if (k == lower_name) return std::string_view(v);
  }
  return std::nullopt;
}

namespace {

Response not_allowed(std::string_view allow, const Request& req) {
  Response r =
      problem(Problem::method_not_allowed,
              fmt::format("{} does not accept {} (allowed: {})", req.path, req.method, allow));
  r.headers.emplace_back("Allow", std::string(allow));
  return r;
}

}  // namespace

Response held_refused(HeldRequests::Refusal why, const HeldRequests::Limits& limits,
                      core::JobId job) {
  Response r = problem(
      Problem::too_many_requests,
      why == HeldRequests::Refusal::job_full
          ? fmt::format("job {} already has {} clients following or waiting on it: try again later",
                        job, limits.per_job)
          : fmt::format("you already hold {} requests open (log followers and waits): close one "
                        "or try again later",
                        limits.per_owner));
  r.headers.emplace_back("Retry-After", "5");
  return r;
}

std::optional<Response> Router::admit(Request& head) const {
  // The dashboard's page and script hold no data; the page asks for a token itself.
  bool web = head.method == "GET" && (head.path == "/" || head.path.starts_with("/assets/"));
  if (head.path == "/healthz" || web || !owners_) return std::nullopt;
  std::optional<Principal> who = authenticate(head.header("authorization").value_or(""), *owners_);
  if (who) {
    head.principal = who->name;
    head.role = who->role;
    // A viewer reads; asking what a submission would do (a dry run) changes nothing either.
    auto dry_run = bool_param(head, "dry_run", false);
    bool reads = head.method == "GET" || head.method == "HEAD" ||
                 (head.method == "POST" && head.path == "/v1/jobs" && dry_run && *dry_run);
    if (who->role != core::Role::viewer || reads) return std::nullopt;
    http_metrics_->observe(head.method, head.path, 403, 0);
    return problem(Problem::forbidden,
                   fmt::format("{} holds a viewer's token, which may read but not change anything "
                               "({} {})",
                               who->name, head.method, head.path));
  }
  bool given = head.header("authorization").has_value();
  http_metrics_->observe(head.method, head.path, 401, 0);
  Response r = problem(Problem::unauthorized,
                       given ? "the token given is not one this server accepts (check "
                               "VRAMQ_TOKEN, or the Authorization: Bearer header)"
                             : "this server needs a token and none was given: send "
                               "Authorization: Bearer TOKEN (the CLI reads VRAMQ_TOKEN)");
  r.headers.emplace_back("WWW-Authenticate", R"(Bearer realm="vramq")");
  return r;
}

boost::system::result<std::unique_ptr<BodySink>, Response> Router::sink_for(
    const Request& head, std::optional<std::uint64_t> content_length) {
  using R = boost::system::result<std::unique_ptr<BodySink>, Response>;
  auto type = head.header("content-type");
  if (head.method != "POST" || head.path != "/v1/jobs" || !type ||
      !core::to_lower(*type).starts_with("multipart/")) {
    return R(boost::system::in_place_value, nullptr);
  }
  return upload_reader(*type, content_length, orchestrator_);
}

boost::asio::awaitable<Response> Router::handle(Request req) {
  // What a view read now already shows: a client that follows GET /v1/events resumes after it
  // (?after=) and misses nothing. Taken before the handler runs, so that the view is at least as
  // new as the id; events after it may repeat what the view shows (each carries a whole item).
  std::uint64_t event_id = orchestrator_.events().ring().last_id();
  bool snapshot =
      req.method == "GET" &&
      (req.path == "/v1/jobs" || req.path == "/v1/gpus" || req.path == "/v1/workers" ||
       req.path == "/v1/queue" ||
       (req.path.starts_with("/v1/jobs/") && req.path.find('/', 9) == std::string::npos));
  auto began = std::chrono::steady_clock::now();
  Response out = co_await route(req);
  http_metrics_->observe(
      req.method, req.path, out.status,
      std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count());
  if (snapshot && out.status == 200 && orchestrator_.events().enabled()) {
    out.headers.emplace_back("Vramq-Event-Id", std::to_string(event_id));
  }
  co_return out;
}

boost::asio::awaitable<Response> Router::route(Request& req) {
  const std::string& p = req.path;
  const std::string& m = req.method;
  if (p == "/healthz") {
    co_return m == "GET" ? handle_healthz() : not_allowed("GET", req);
  }
  if (p == "/readyz") {
    co_return m == "GET" ? handle_readyz(orchestrator_) : not_allowed("GET", req);
  }
  if (p == "/v1/jobs") {
    if (m == "POST") co_return co_await handle_submit(req, orchestrator_, *held_);
    if (m == "GET") co_return co_await handle_list(req, orchestrator_);
    co_return not_allowed("GET, POST", req);
  }
  if (p.starts_with("/v1/jobs/")) {
    std::string_view id = std::string_view(p).substr(9);
    if (id.find('/') == std::string_view::npos) {
      if (m == "GET") co_return co_await handle_get_job(req, id, orchestrator_, *held_);
      if (m == "DELETE") co_return co_await handle_cancel(req, id, orchestrator_);
      co_return not_allowed("GET, DELETE", req);
    }
    // /v1/jobs/ID/files and /v1/jobs/ID/files/PATH
    if (std::size_t slash = id.find('/');
        id.substr(slash + 1) == "files" || id.substr(slash + 1).starts_with("files/")) {
      if (m != "GET") co_return not_allowed("GET", req);
      auto job = parse_id(id.substr(0, slash));
      if (!job) co_return job.error();
      std::string_view rest = id.substr(slash + 1);
      std::string_view file;  // "" for the listing (no ?: in a co_await expression: g++ 12)
      if (rest.size() > 6) file = rest.substr(6);
      co_return co_await handle_files(req, *job, file, orchestrator_);
    }
    if (id.ends_with("/log") && id.find('/') == id.size() - 4) {
      if (m != "GET") co_return not_allowed("GET", req);
      auto job = parse_id(id.substr(0, id.size() - 4));
      if (!job) co_return job.error();
      co_return co_await handle_log(req, *job, orchestrator_, *held_);
    }
  }
  if (p == "/run-script") {
    if (m == "POST") co_return co_await handle_run_script(req, orchestrator_, *held_);
    co_return not_allowed("POST", req);
  }
  if (p == "/v1/gpus") {
    co_return m == "GET" ? handle_gpus(orchestrator_) : not_allowed("GET", req);
  }
  if (p == "/" || p == "/index.html" || p.starts_with("/assets/")) {
    co_return m == "GET" ? handle_web(req) : not_allowed("GET", req);
  }
  if (p == "/v1/queue") {
    co_return m == "GET" ? handle_queue(orchestrator_) : not_allowed("GET", req);
  }
  if (p == "/metrics") {
    co_return m == "GET" ? handle_metrics(orchestrator_, *http_metrics_) : not_allowed("GET", req);
  }
  if (p == "/v1/events") {
    if (m == "GET") co_return co_await handle_events(req, orchestrator_, *held_);
    co_return not_allowed("GET", req);
  }
  if (p == "/v1/workers") {
    co_return m == "GET" ? handle_workers(orchestrator_) : not_allowed("GET", req);
  }
  if (p.starts_with("/v1/workers/")) {
    if (m != "DELETE") co_return not_allowed("DELETE", req);
    co_return handle_unload_worker(req, std::string_view(p).substr(12), orchestrator_);
  }
  if (p == "/v1/owners") {
    co_return m == "GET" ? handle_owners(req, orchestrator_) : not_allowed("GET", req);
  }
  if (p == "/v1/usage") {
    if (m == "GET") co_return co_await handle_usage(req, orchestrator_);
    co_return not_allowed("GET", req);
  }
  if (p == "/v1/tasks") {
    co_return m == "GET" ? handle_tasks(orchestrator_) : not_allowed("GET", req);
  }
  co_return problem(Problem::not_found, fmt::format("no such resource: {}", p));
}

}  // namespace vramq::server
