// GET /v1/gpus, /v1/tasks, /healthz, /readyz.
#include <fmt/format.h>
#include <boost/json.hpp>

#include "server/json_codec.hpp"
#include "server/router.hpp"
#include "server/visibility.hpp"
#include "util/json_text.hpp"

namespace vramq::server {

Response handle_queue(const service::Orchestrator& o) {
  return {.body = util::to_json_text(
              queue_head_to_json(o.queue_head(), !jobs_are_private(o.config())))};
}

Response handle_gpus(const service::Orchestrator& o) {
  return {.body = util::to_json_text(
              gpus_to_json(o.gpus(), o.config().vram_buffer_mb, o.health().gpu_kind))};
}

Response handle_tasks(const service::Orchestrator& o) {
  return {.body = util::to_json_text(tasks_to_json(o.catalog(), o.footprints()))};
}

Response handle_healthz() {
  return {.body = R"({"status":"ok"})"};
}

Response handle_readyz(const service::Orchestrator& o) {
  service::ServiceHealth health = o.health();
  boost::json::object body;
  body["queued"] = health.queued;
  body["running"] = health.running;
  // Why it is not ready, for an operator or a probe's log: each cause that applies.
  boost::json::array causes;
  if (health.draining) causes.emplace_back("draining: vramq is shutting down");
  if (!health.gpu_error.empty()) causes.emplace_back("GPU readings fail: " + health.gpu_error);
  const store::Store::Health& store = health.store;
  if (store.fault != store::StoreFault::none) {
    boost::json::object s;
    s["fault"] = to_string(store.fault);
    s["error"] = store.error;
    body["store"] = std::move(s);
    causes.emplace_back(
        fmt::format("the job store cannot write ({}): {}", to_string(store.fault), store.error));
  }
  // GPUs that cannot be read: while others can, it is still ready (jobs start on those) but
  // says which are lost; with none left, it is not ready.
  std::vector<service::GpuStatus> gpus = o.gpus();
  boost::json::array lost;
  for (const service::GpuStatus& g : gpus) {
    if (!g.info.error.empty()) {
      lost.emplace_back(
          fmt::format("GPU {} ({}) cannot be read: {}", g.info.index, g.info.uuid, g.info.error));
    }
  }
  bool all_lost = !lost.empty() && lost.size() == gpus.size();
  bool ready = health.ready() && !all_lost;
  if (all_lost) {
    for (const boost::json::value& l : lost)
      causes.push_back(l);
  } else if (!lost.empty()) {
    body["degraded"] = std::move(lost);
  }
  if (!causes.empty()) body["causes"] = std::move(causes);
  body["ready"] = ready;
  return {.status = ready ? 200 : 503, .body = util::to_json_text(body)};
}

}  // namespace vramq::server
