#include "core/owners.hpp"

#include <fmt/format.h>

#include <toml++/toml.h>
#include <algorithm>
#include <cctype>
#include <map>

#include "core/toml_fields.hpp"

namespace vramq::core {
namespace {

constexpr std::string_view kFile = "owners file";
constexpr std::int64_t kMaxMb = std::int64_t{1} << 40;  // a mebibyte count no GPU fleet reaches
constexpr std::int64_t kMaxCount = 1'000'000'000;
constexpr double kMaxWeight = 1e6;

Result<OwnerLimits> parse_limits(const toml::table& t, const std::string& where) {
  TomlPlace at{.file = kFile, .where = where};
  OwnerLimits l;
  auto optional_int = [&](std::string_view key, std::int64_t lo,
                          std::int64_t hi) -> Result<std::optional<std::int64_t>> {
    if (!t.contains(key)) return std::optional<std::int64_t>{};
    auto v = integer_key(t, key, at, 0, lo, hi);
    if (!v) return v.error();
    return std::optional<std::int64_t>{*v};
  };
  auto quota = optional_int("quota_mb", 0, kMaxMb);
  if (!quota) return quota.error();
  auto limit = optional_int("limit_mb", 0, kMaxMb);
  if (!limit) return limit.error();
  auto running = optional_int("max_running", 0, kMaxCount);
  if (!running) return running.error();
  auto queued = optional_int("max_queued", 0, kMaxCount);
  if (!queued) return queued.error();
  auto priority = optional_int("max_priority", -1000, 1000);  // the API's range of priorities
  if (!priority) return priority.error();
  l = {.quota_mb = *quota,
       .limit_mb = *limit,
       .max_running = *running,
       .max_queued = *queued,
       .max_priority = *priority,
       .weight = 1.0};
  if (const toml::node* w = t.get("weight")) {
    auto v = w->value<double>();
    if (!v || !(w->is_floating_point() || w->is_integer()) || !(*v > 0) || *v > kMaxWeight) {
      return TomlPlace{.file = kFile, .where = where + ".weight"}.error(
          fmt::format("must be a number above 0 and at most {}", kMaxWeight));
    }
    l.weight = *v;
  }
  if (l.quota_mb && l.limit_mb && *l.limit_mb < *l.quota_mb) {
    return at.error(
        fmt::format("limit_mb ({}) is below quota_mb ({}): the limit includes the "
                    "guarantee",
                    *l.limit_mb, *l.quota_mb));
  }
  return l;
}

Result<Role> parse_role(const toml::table& t, const std::string& where) {
  const toml::node* node = t.get("role");
  if (node == nullptr) return Role::user;
  auto s = node->value_exact<std::string>();
  for (Role r : {Role::admin, Role::user, Role::viewer}) {
    if (s && *s == to_string(r)) return r;
  }
  return TomlPlace{.file = kFile, .where = where + ".role"}.error(
      "must be \"admin\", \"user\" or \"viewer\"");
}

Result<std::string> optional_string(const toml::table& t, std::string_view key,
                                    const std::string& where) {
  const toml::node* node = t.get(key);
  using R = Result<std::string>;  // a std::string would also convert to an Error
  if (node == nullptr) return R(boost::system::in_place_value);
  auto s = node->value_exact<std::string>();
  if (!s) {
    return TomlPlace{.file = kFile, .where = fmt::format("{}.{}", where, key)}.error(
        "must be a string");
  }
  return R(boost::system::in_place_value, *s);
}

Result<void> parse_groups(const toml::table& root, Owners& out) {
  const toml::node* node = root.get("groups");
  if (node == nullptr) return {};
  const toml::table* groups = node->as_table();
  if (groups == nullptr)
    return TomlPlace{.file = kFile, .where = "groups"}.error("must be a table");
  for (auto&& [key, value] : *groups) {
    std::string where = fmt::format("groups.{}", key.str());
    TomlPlace at{.file = kFile, .where = where};
    if (!is_owner_name(key.str())) {
      return at.error("a group's name is 1-64 letters, digits, '.', '_', '-' or '@'");
    }
    const toml::table* t = value.as_table();
    if (t == nullptr) return at.error("must be a table");
    if (auto ok = check_keys(
            *t, at,
            {"quota_mb", "limit_mb", "max_running", "max_queued", "max_priority", "weight"});
        !ok) {
      return ok.error();
    }
    auto limits = parse_limits(*t, where);
    if (!limits) return limits.error();
    out.groups.push_back({.name = std::string(key.str()), .limits = *limits});
  }
  return {};
}

Result<void> parse_one_owner(std::string_view name, const toml::table& t, Owners& out,
                             std::map<std::string, std::string>& token_owner) {
  std::string where = fmt::format("owners.{}", name);
  TomlPlace at{.file = kFile, .where = where};
  if (auto ok = check_keys(t, at,
                           {"tokens", "role", "group", "run_as", "quota_mb", "limit_mb",
                            "max_running", "max_queued", "max_priority", "weight"});
      !ok) {
    return ok.error();
  }
  auto role = parse_role(t, where);
  if (!role) return role.error();
  auto group = optional_string(t, "group", where);
  if (!group) return group.error();
  if (!group->empty() &&
      std::ranges::none_of(out.groups, [&](const OwnerGroup& g) { return g.name == *group; })) {
    return TomlPlace{.file = kFile, .where = where + ".group"}.error(
        fmt::format("no group '{}' (declare it as [groups.{}])", *group, *group));
  }
  auto run_as = optional_string(t, "run_as", where);
  if (!run_as) return run_as.error();
  if (!run_as->empty() && !is_unix_user_name(*run_as)) {
    return TomlPlace{.file = kFile, .where = where + ".run_as"}.error(
        fmt::format("'{}' is not a Unix user name", *run_as));
  }
  auto limits = parse_limits(t, where);
  if (!limits) return limits.error();
  std::string tokens_where = where + ".tokens";
  TomlPlace tokens_at{.file = kFile, .where = tokens_where};
  auto tokens = string_array(t.get("tokens"), tokens_at);
  if (!tokens) return tokens.error();
  std::size_t index = out.owners.size();
  for (std::size_t i = 0; i < tokens->size(); ++i) {
    const std::string& hash = (*tokens)[i];
    // Never quoted: a secret pasted here by mistake must not reach the log.
    if (!is_token_hash(hash)) {
      return tokens_at.error(fmt::format(
          "token {} is not a hash: tokens are stored as \"sha256:\" and 64 lower-case hex "
          "digits, never as the secret itself (`vramq token hash` prints one)",
          i + 1));
    }
    auto [it, fresh] = token_owner.emplace(hash, std::string(name));
    if (!fresh) {
      return tokens_at.error(
          fmt::format("token {} is also a token of owners.{}", i + 1, it->second));
    }
    out.credentials.push_back({.hash = hash, .owner = index, .role = *role});
  }
  out.owners.push_back({.name = std::string(name),
                        .role = *role,
                        .group = std::move(*group),
                        .limits = *limits,
                        .run_as = std::move(*run_as)});
  return {};
}

// A group's guarantee is shared out to its members: theirs must fit in it.
Result<void> check_group_quotas(const Owners& o) {
  for (const OwnerGroup& g : o.groups) {
    std::int64_t members = 0;
    for (const Owner& m : o.owners) {
      if (m.group != g.name || !m.limits.quota_mb) continue;
      if (!g.limits.quota_mb) {
        return TomlPlace{.file = kFile, .where = fmt::format("owners.{}.quota_mb", m.name)}.error(
            fmt::format("its group '{}' guarantees nothing (no quota_mb), so it cannot give a "
                        "member a guarantee",
                        g.name));
      }
      members += *m.limits.quota_mb;
    }
    if (g.limits.quota_mb && members > *g.limits.quota_mb) {
      return TomlPlace{.file = kFile, .where = fmt::format("groups.{}", g.name)}.error(
          fmt::format("its members are guaranteed {} MiB together, more than its quota_mb {}",
                      members, *g.limits.quota_mb));
    }
  }
  return {};
}

}  // namespace

bool is_unix_user_name(std::string_view s) {
  if (s.empty() || s.size() > 32 ||
      !(std::islower(static_cast<unsigned char>(s[0])) || s[0] == '_')) {
    return false;
  }
  return std::ranges::all_of(s, [](char c) {
    return std::islower(static_cast<unsigned char>(c)) ||
           std::isdigit(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

std::string_view to_string(Role r) {
  switch (r) {
    case Role::admin:
      return "admin";
    case Role::user:
      return "user";
    case Role::viewer:
      return "viewer";
  }
  return "user";
}

bool is_token_hash(std::string_view text) {
  constexpr std::string_view kPrefix = "sha256:";
  if (text.size() != kPrefix.size() + 64 || !text.starts_with(kPrefix)) return false;
  return std::ranges::all_of(text.substr(kPrefix.size()), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
  });
}

bool is_owner_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  return std::ranges::all_of(name, [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' ||
           c == '@';
  });
}

const Owner* Owners::find(std::string_view name) const {
  auto it = std::ranges::find(owners, name, &Owner::name);
  return it == owners.end() ? nullptr : &*it;
}

const OwnerGroup* Owners::group_of(const Owner& owner) const {
  if (owner.group.empty()) return nullptr;
  auto it = std::ranges::find(groups, owner.group, &OwnerGroup::name);
  return it == groups.end() ? nullptr : &*it;
}

Result<Owners> parse_owners(std::string_view toml_text) {
  toml::table root;
  try {
    root = toml::parse(toml_text);
  } catch (const toml::parse_error& e) {
    return Error{fmt::format("{}: line {}: {}", kFile, e.source().begin.line, e.description())};
  }
  if (auto ok = check_keys(root, {.file = kFile, .where = "top level"}, {"owners", "groups"});
      !ok) {
    return ok.error();
  }
  Owners out;
  if (auto ok = parse_groups(root, out); !ok) return ok.error();
  const toml::table* owners = root["owners"].as_table();
  if (owners == nullptr || owners->empty()) {
    return Error{fmt::format("{}: names no owner (add an [owners.NAME] table)", kFile)};
  }
  std::map<std::string, std::string> token_owner;
  for (auto&& [key, value] : *owners) {
    std::string where = "owners." + std::string(key.str());
    TomlPlace at{.file = kFile, .where = where};
    if (!is_owner_name(key.str())) {
      return at.error("an owner's name is 1-64 letters, digits, '.', '_', '-' or '@'");
    }
    const toml::table* t = value.as_table();
    if (t == nullptr) return at.error("must be a table");
    if (auto ok = parse_one_owner(key.str(), *t, out, token_owner); !ok) return ok.error();
  }
  if (auto ok = check_group_quotas(out); !ok) return ok.error();
  return out;
}

}  // namespace vramq::core
