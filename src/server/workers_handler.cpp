// GET /v1/workers (the resident warm workers) and DELETE /v1/workers/ID (unload an idle one).
#include <fmt/format.h>

#include <charconv>

#include "server/json_codec.hpp"
#include "server/problem.hpp"
#include "server/router.hpp"
#include "service/orchestrator.hpp"
#include "util/json_text.hpp"

namespace vramq::server {

Response handle_workers(const service::Orchestrator& o) {
  return {.body = util::to_json_text(workers_to_json(o.workers().statuses()))};
}

Response handle_unload_worker(const Request& req, std::string_view id, service::Orchestrator& o) {
  core::WorkerId wid = 0;
  auto [end, ec] = std::from_chars(id.data(), id.data() + id.size(), wid);
  if (ec != std::errc{} || end != id.data() + id.size() || wid <= 0) {
    return problem(Problem::not_found, fmt::format("no such worker: {:.64}", id));
  }
  // Workers serve everyone: only an admin token may unload one (any caller without tokens).
  if (!req.admin()) {
    return problem(Problem::forbidden, "unloading a warm worker needs an admin token");
  }
  switch (o.workers().unload(wid)) {
    case service::UnloadOutcome::unloading:
      return {.status = 202,
              .body = util::to_json_text(boost::json::object{{"id", wid}, {"state", "unloading"}})};
    case service::UnloadOutcome::busy:
      return problem(Problem::conflict,
                     fmt::format("worker {} is serving a run (or loading for one): cancel that "
                                 "job, or unload the worker once it is idle",
                                 wid));
    case service::UnloadOutcome::not_found:
      break;
  }
  return problem(Problem::not_found, fmt::format("no such worker: {}", wid));
}

}  // namespace vramq::server
