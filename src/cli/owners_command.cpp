// vramq owners: GET /v1/owners as a table (issue 24), for admins: each owner's role, limits and
// what it holds now against its guarantee, as sshare shows associations.
#include <fmt/format.h>
#include <boost/json.hpp>

#include <iostream>

#include "cli/client_call.hpp"
#include "cli/client_commands.hpp"
#include "cli/table.hpp"
#include "util/json_text.hpp"

namespace vramq::cli {
namespace json = boost::json;

namespace {

std::string figure(const json::value& v) {
  if (v.is_null()) return "-";
  if (v.is_double()) return fmt::format("{:g}", v.get_double());
  return std::to_string(v.to_number<std::int64_t>());
}

}  // namespace

int owners(const ClientOptions& c) {
  auto r = call(c, "GET", "/v1/owners");
  if (!r) return kExitUnreachable;
  if (r->status != 200 || !r->body.is_object()) return report_error(*r);
  if (c.json) {
    std::cout << util::to_json_text(r->body) << "\n";
    return kExitOk;
  }
  Table t({"OWNER", "ROLE", "GROUP", "RUNS AS", "HOLDS MiB", "BORROWED", "QUOTA", "LIMIT",
           "RUNNING", "QUEUED", "WEIGHT", "SHARE GiB-h"});
  for (const json::value& ov : r->body.at("owners").as_array()) {
    const json::object& o = ov.get_object();
    const json::object& l = o.at("limits").get_object();
    auto text = [](const json::value& v) {
      return v.is_string() ? std::string(v.get_string()) : std::string("-");
    };
    std::string share = "-";
    if (const json::value& f = o.at("fair_share"); f.is_object()) {
      share = fmt::format("{:.2f}", f.at("use_mib_s").to_number<double>() / 1024.0 / 3600.0);
    }
    t.add({text(o.at("name")), text(o.at("role")), text(o.at("group")), text(o.at("runs_as")),
           figure(o.at("reserved_mb")), figure(o.at("borrowed_mb")), figure(l.at("quota_mb")),
           figure(l.at("limit_mb")), figure(o.at("running")), figure(o.at("queued")),
           figure(l.at("weight")), share});
  }
  std::cout << t.render();
  const json::array& groups = r->body.at("groups").as_array();
  if (!groups.empty()) {
    Table g({"GROUP", "QUOTA", "LIMIT", "MAX RUNNING", "MEMBERS"});
    for (const json::value& gv : groups) {
      const json::object& o = gv.get_object();
      const json::object& l = o.at("limits").get_object();
      std::string members;
      for (const json::value& m : o.at("members").as_array())
        members += (members.empty() ? "" : ",") + std::string(m.get_string());
      g.add({std::string(o.at("name").get_string()), figure(l.at("quota_mb")),
             figure(l.at("limit_mb")), figure(l.at("max_running")), members});
    }
    std::cout << "\n" << g.render();
  }
  return kExitOk;
}

}  // namespace vramq::cli
