#include "server/visibility.hpp"

#include <boost/json.hpp>

namespace vramq::server {
namespace json = boost::json;

void redact_job(json::object& o) {
  for (std::string_view key :
       {"name", "error", "output", "job_dir", "progress", "exit_code", "signal"}) {
    if (o.contains(key)) o[key] = nullptr;
  }
  o["params"] = json::object();
  o["labels"] = json::object();
  o["command"] = json::array();
  o["warnings"] = json::array();
  o["after"] = json::object{{"ok", json::array()}, {"any", json::array()}};
  o["output_truncated"] = false;
  if (auto* slurm = o.if_contains("slurm"); slurm != nullptr && slurm->is_object()) {
    slurm->as_object()["reason"] = nullptr;
  }
  o["private"] = true;
}

std::string redacted_job_text(std::string_view job_json) {
  boost::system::error_code ec;
  json::value v = json::parse(job_json, ec);
  if (ec || !v.is_object()) return std::string(job_json);  // not a job: ours, never happens
  redact_job(v.as_object());
  return json::serialize(v);
}

}  // namespace vramq::server
