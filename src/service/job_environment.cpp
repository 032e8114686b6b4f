#include "service/job_environment.hpp"

#include <algorithm>
#include <map>
#include <string_view>

extern char** environ;

namespace vramq::service {

namespace {
// The part of the server's environment a job inherits; everything else it gets is explicit.
constexpr std::string_view kInherited[] = {"PATH", "HOME",   "LANG", "LC_ALL",
                                           "TZ",   "TMPDIR", "USER", "LOGNAME"};
}  // namespace

std::vector<std::string> job_environment(
    const std::vector<std::pair<std::string, std::string>>& extra) {
  std::map<std::string, std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view kv(*e);
    std::size_t eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    if (std::ranges::find(kInherited, kv.substr(0, eq)) != std::end(kInherited)) {
      env[std::string(kv.substr(0, eq))] = std::string(kv.substr(eq + 1));
    }
  }
  for (const auto& [k, v] : extra)
    env[k] = v;  // later sources win
  std::vector<std::string> out;
  for (const auto& [k, v] : env) {
    std::string kv = k;
    kv.append("=").append(v);
    out.push_back(std::move(kv));
  }
  return out;
}
}  // namespace vramq::service
