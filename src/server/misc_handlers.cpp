// GET /v1/gpus, /v1/tasks, /healthz, /readyz.
#include <boost/json.hpp>

#include "server/json_codec.hpp"
#include "server/router.hpp"
#include "util/json_text.hpp"

namespace vramq::server {

Response handle_gpus(const service::Orchestrator& o) {
  return {.body = util::to_json_text(gpus_to_json(o.gpus(), o.buffer_mb(), o.gpu_kind()))};
}

Response handle_tasks(const service::Orchestrator& o) {
  return {.body = util::to_json_text(tasks_to_json(o.catalog(), o.footprints()))};
}

Response handle_healthz() {
  return {.body = R"({"status":"ok"})"};
}

Response handle_readyz(const service::Orchestrator& o) {
  boost::json::object body;
  body["ready"] = o.ready();
  body["queued"] = o.queued();
  body["running"] = o.running();
  return {.status = o.ready() ? 200 : 503, .body = util::to_json_text(body)};
}

}  // namespace vramq::server
