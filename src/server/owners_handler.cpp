// GET /v1/owners (issue 24): the owners in force with their limits and what each holds now, for
// admins (as sshare and scontrol show associations). Token hashes never leave the server.
#include <fmt/format.h>
#include <boost/json.hpp>

#include <algorithm>
#include <cmath>

#include "server/problem.hpp"
#include "server/router.hpp"
#include "util/json_text.hpp"

namespace vramq::server {
namespace {

namespace json = boost::json;

json::value optional_number(const std::optional<std::int64_t>& v) {
  return v ? json::value(*v) : json::value(nullptr);
}

json::object limits_json(const core::OwnerLimits& l) {
  return {{"quota_mb", optional_number(l.quota_mb)},
          {"limit_mb", optional_number(l.limit_mb)},
          {"max_running", optional_number(l.max_running)},
          {"max_queued", optional_number(l.max_queued)},
          {"max_priority", optional_number(l.max_priority)},
          {"weight", l.weight}};
}

}  // namespace

Response handle_owners(const Request& req, service::Orchestrator& o) {
  if (!req.admin()) {
    return problem(Problem::forbidden, "the owners and their limits are for admin tokens");
  }
  const std::shared_ptr<const core::Owners>& owners = o.owners().owners();
  std::map<std::string, service::Orchestrator::OwnerUse> use = o.owner_use();
  json::array out;
  json::array groups;
  if (owners) {
    std::vector<std::size_t> tokens(owners->owners.size(), 0);
    for (const core::Credential& c : owners->credentials)
      ++tokens.at(c.owner);
    for (std::size_t i = 0; i < owners->owners.size(); ++i) {
      const core::Owner& w = owners->owners[i];
      service::Orchestrator::OwnerUse u;
      if (auto it = use.find(w.name); it != use.end()) u = it->second;
      std::optional<service::OwnerBook::Share> share = o.owners().share_of(w.name);
      const util::UnixUser* user = o.owners().user_of(w.name);
      out.push_back(json::object{
          {"name", w.name},
          {"role", std::string(core::to_string(w.role))},
          {"group", w.group.empty() ? json::value(nullptr) : json::value(w.group)},
          {"runs_as", user != nullptr ? json::value(user->name) : json::value(nullptr)},
          {"tokens", tokens[i]},
          {"limits", limits_json(w.limits)},
          {"reserved_mb", u.reserved_mb},
          {"borrowed_mb", u.borrowed_mb},
          {"running", u.running},
          {"queued", u.queued},
          {"fair_share",
           share ? json::value(json::object{
                       {"use_mib_s", share->use_mib_s},
                       {"weight", share->weight},
                       {"share", std::round(share->use_mib_s / std::max(share->weight, 1e-9))}})
                 : json::value(nullptr)}});
    }
    for (const core::OwnerGroup& g : owners->groups) {
      json::array members;
      for (const core::Owner& w : owners->owners) {
        if (w.group == g.name) members.emplace_back(w.name);
      }
      groups.push_back(json::object{
          {"name", g.name}, {"limits", limits_json(g.limits)}, {"members", std::move(members)}});
    }
  }
  return Response{.body = util::to_json_text(
                      json::object{{"owners", std::move(out)}, {"groups", std::move(groups)}})};
}

}  // namespace vramq::server
