#include "cli/worker_commands.hpp"

#include <fmt/format.h>
#include <boost/json.hpp>
#include <iostream>

#include "cli/client_call.hpp"
#include "cli/table.hpp"
#include "core/units.hpp"
#include "util/json_text.hpp"

namespace vramq::cli {
namespace json = boost::json;

int workers(const ClientOptions& c) {
  auto r = call(c, "GET", "/v1/workers");
  if (!r) return kExitUnreachable;
  if (r->status != 200 || !r->body.is_object()) return report_error(*r);
  if (c.json) {
    std::cout << util::to_json_text(r->body) << "\n";
    return kExitOk;
  }
  const json::array& list = r->body.at("workers").as_array();
  if (list.empty()) {
    std::cout << "no warm workers are resident\n";
    return kExitOk;
  }
  Table t({"ID", "TASK", "GPU", "STATE", "PID", "VRAM", "PEAK", "RUNS", "JOB", "KEEP-ALIVE"});
  for (const json::value& wv : list) {
    const json::object& w = wv.get_object();
    auto mb = [&](const char* k) { return core::format_mb(w.at(k).to_number<std::int64_t>()); };
    std::string keep = "-";
    if (const json::value& k = w.at("keep_alive_left_s"); !k.is_null()) {
      keep = fmt::format("{:.0f} s", k.to_number<double>());
    } else if (str(w.at("state")) == "idle") {
      keep = "resident";
    } else if (str(w.at("state")) == "unloading") {
      keep = str(w.at("unload_reason"));
    }
    t.add({str(w.at("id")), str(w.at("task")), str(w.at("gpu")), str(w.at("state")),
           str(w.at("pid")), mb("resident_mb"), mb("peak_mb"), str(w.at("runs")), str(w.at("job")),
           keep});
  }
  std::cout << t.render();
  return kExitOk;
}

int unload_worker(const ClientOptions& c, std::int64_t id) {
  auto r = call(c, "DELETE", fmt::format("/v1/workers/{}", id));
  if (!r) return kExitUnreachable;
  if (r->status != 202) return report_error(*r);
  if (c.json) {
    std::cout << util::to_json_text(r->body) << "\n";
  } else {
    std::cout << fmt::format("worker {}: unloading\n", id);
  }
  return kExitOk;
}

}  // namespace vramq::cli
