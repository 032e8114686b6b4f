// vramq usage: GET /v1/usage as a table (issue 24), as sreport prints an account's use.
#include <fmt/format.h>
#include <boost/json.hpp>

#include <iostream>

#include "cli/client_call.hpp"
#include "cli/client_commands.hpp"
#include "cli/table.hpp"
#include "util/json_text.hpp"

namespace vramq::cli {
namespace json = boost::json;

int usage(const ClientOptions& c, const UsageOptions& u) {
  std::string target = "/v1/usage?by=" + query_value(u.by.empty() ? "owner" : u.by);
  if (!u.from.empty()) target += "&from=" + query_value(u.from);
  if (!u.to.empty()) target += "&to=" + query_value(u.to);
  if (!u.owner.empty()) target += "&owner=" + query_value(u.owner);
  auto r = call(c, "GET", target);
  if (!r) return kExitUnreachable;
  if (r->status != 200 || !r->body.is_object()) return report_error(*r);
  if (c.json) {
    std::cout << util::to_json_text(r->body) << "\n";
    return kExitOk;
  }
  auto text = [](const json::value& v) {
    return v.is_string() ? std::string(v.get_string()) : std::string("-");
  };
  auto number = [](const json::value& v) { return v.to_number<std::int64_t>(); };
  Table t({"DAY", "OWNER", "TASK", "RUNS", "VRAM GiB-h", "MEASURED GiB-h", "GPU-h", "PREEMPTED"});
  for (const json::value& rv : r->body.at("rows").as_array()) {
    const json::object& row = rv.get_object();
    auto gib_h = [&](const char* k) {
      return fmt::format("{:.2f}", static_cast<double>(number(row.at(k))) / 1024.0 / 3600.0);
    };
    std::string task = text(row.at("task"));
    t.add({text(row.at("day")), text(row.at("owner")),
           row.at("task").is_string() && task.empty() ? "(raw)" : task,
           std::to_string(number(row.at("runs"))), gib_h("reserved_mib_s"), gib_h("measured_mib_s"),
           fmt::format("{:.2f}", static_cast<double>(number(row.at("gpu_s"))) / 3600.0),
           std::to_string(number(row.at("preempted")))});
  }
  std::cout << fmt::format("usage from {} to {}\n", text(r->body.at("from")),
                           text(r->body.at("to")))
            << t.render();
  return kExitOk;
}

}  // namespace vramq::cli
