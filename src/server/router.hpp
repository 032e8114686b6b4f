#pragma once
// Maps a request to its handler: the one table of routes (method, path pattern) of the API.
// 404 for unknown paths, 405 with Allow for a known path with another method.

#include <boost/asio/awaitable.hpp>

#include "server/auth.hpp"
#include "server/held_requests.hpp"
#include "server/http_metrics.hpp"
#include "server/http_types.hpp"
#include "service/orchestrator.hpp"

namespace vramq::server {

class Router {
 public:
  // With `owners` set every route but /healthz and the dashboard's files needs
  // "Authorization: Bearer T"; null: no tokens, everyone may do anything.
  Router(service::Orchestrator& orchestrator, std::shared_ptr<const core::Owners> owners,
         HeldRequests::Limits held = {})
      : orchestrator_(orchestrator),
        owners_(std::move(owners)),
        held_(std::make_shared<HeldRequests>(held)),
        http_metrics_(std::make_shared<HttpMetrics>()) {}
  // Called on the request's header, before its body is read: sets who sent it, or answers 401
  // (no valid token) or 403 (a viewer's token on a request that would change something).
  std::optional<Response> admit(Request& head) const;
  // Where an admitted request's body goes when it is not read whole into memory: an upload's
  // sink (server/upload_reader.hpp), or nullptr; the answer when its header already fails.
  boost::system::result<std::unique_ptr<BodySink>, Response> sink_for(
      const Request& head, std::optional<std::uint64_t> content_length);
  // An admitted request, body read.
  boost::asio::awaitable<Response> handle(Request req);
  // The owners reloaded (SIGHUP): requests admitted from now on are checked against these.
  void set_owners(std::shared_ptr<const core::Owners> owners) { owners_ = std::move(owners); }

 private:
  boost::asio::awaitable<Response> route(Request& req);
  service::Orchestrator& orchestrator_;
  std::shared_ptr<const core::Owners> owners_;
  std::shared_ptr<HeldRequests> held_;
  std::shared_ptr<HttpMetrics> http_metrics_;  // a pointer: admit() (const) counts its 401s
};

// The 429 for a request over a cap of HeldRequests.
Response held_refused(HeldRequests::Refusal why, const HeldRequests::Limits& limits,
                      core::JobId job);

// Handlers, one file per resource. Loop only.
boost::asio::awaitable<Response> handle_submit(const Request& req, service::Orchestrator& o,
                                               HeldRequests& held);
boost::asio::awaitable<Response> handle_get_job(const Request& req, std::string_view id,
                                                service::Orchestrator& o, HeldRequests& held);
// "/v1/jobs/ID/log": the id of a log path (a positive integer), else the 404 to answer.
boost::system::result<core::JobId, Response> parse_id(std::string_view text);
boost::asio::awaitable<Response> handle_cancel(const Request& req, std::string_view id,
                                               service::Orchestrator& o);
boost::asio::awaitable<Response> handle_list(const Request& req, service::Orchestrator& o);
boost::asio::awaitable<Response> handle_run_script(const Request& req, service::Orchestrator& o,
                                                   HeldRequests& held);
boost::asio::awaitable<Response> handle_log(const Request& req, core::JobId id,
                                            service::Orchestrator& o, HeldRequests& held);
Response handle_gpus(const service::Orchestrator& o);
// GET /v1/queue: the head of the queue, as `queue` events carry it.
Response handle_queue(const service::Orchestrator& o);
// GET / and GET /assets/* (web_handler.cpp): the dashboard.
Response handle_web(const Request& req);
// GET /metrics (metrics_handler.cpp).
Response handle_metrics(const service::Orchestrator& o, const HttpMetrics& http);
// GET /v1/events (events_handler.cpp).
boost::asio::awaitable<Response> handle_events(const Request& req, service::Orchestrator& o,
                                               HeldRequests& held);
// GET /v1/workers and DELETE /v1/workers/ID (workers_handler.cpp).
Response handle_workers(const service::Orchestrator& o);
Response handle_unload_worker(const Request& req, std::string_view id, service::Orchestrator& o);
// `path` "": the listing of the job's directory; else that file (files_handler.cpp).
boost::asio::awaitable<Response> handle_files(const Request& req, core::JobId id,
                                              std::string_view path, service::Orchestrator& o);

// repr() of Python bytes, as the seed's error details show stderr.
std::string python_bytes_repr(std::string_view bytes);
Response handle_tasks(const service::Orchestrator& o);
// GET /v1/usage (usage_handler.cpp).
boost::asio::awaitable<Response> handle_usage(const Request& req, service::Orchestrator& o);
// GET /v1/owners: the owners in force, their limits and what each holds (admins).
Response handle_owners(const Request& req, service::Orchestrator& o);
Response handle_healthz();
Response handle_readyz(const service::Orchestrator& o);

}  // namespace vramq::server
