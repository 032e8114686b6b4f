// GET /v1/gpus, /v1/tasks, /healthz, /readyz.
#include <boost/json.hpp>

#include "server/json_codec.hpp"
#include "server/router.hpp"

namespace vramq::server {

Response handle_gpus(const service::Orchestrator& o) {
  return {.body = boost::json::serialize(gpus_to_json(o.gpus(), o.buffer_mb(), o.gpu_kind()))};
}

Response handle_tasks(const service::Orchestrator& o) {
  return {.body = boost::json::serialize(tasks_to_json(o.catalog(), o.footprints()))};
}

Response handle_healthz() {
  return {.body = R"({"status":"ok"})"};
}

Response handle_readyz(const service::Orchestrator& o) {
  boost::json::object body;
  body["ready"] = o.ready();
  body["queued"] = o.queued();
  body["running"] = o.running();
  return {.status = o.ready() ? 200 : 503, .body = boost::json::serialize(body)};
}

}  // namespace vramq::server
