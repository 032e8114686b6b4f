#pragma once
// Who may use the service, and how much of it (issue 24): the owners file (--owners, TOML). Each
// owner has bearer tokens (stored as SHA-256 hashes, never the secrets), a role, an optional
// group (a team) and limits in VRAM MiB and job counts; a group carries the same limits, and its
// members' guarantees (quota_mb) come out of the group's. An owner or group without a limit of
// a kind is not limited in it. The token file (--token-file) maps onto the same structure.
//
//   [groups.vision]
//   quota_mb = 32768
//   [owners.alice]
//   tokens = ["sha256:<64 hex digits>"]   # `vramq token hash` prints one
//   role = "user"                         # admin, user (the default) or viewer
//   group = "vision"
//   quota_mb = 16384                      # guaranteed VRAM, all GPUs together
//   limit_mb = 40960                      # most it may hold, borrowing included
//   max_running = 4
//   max_queued = 500
//   max_priority = 10
//   weight = 2                            # its share against others' (fair share)
//
// Pure: parsing and checking only, no I/O, no hashing (the server hashes presented tokens).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace vramq::core {

// admin: acts on every job; user: submits, and acts on its own jobs; viewer: reads only.
enum class Role { admin, user, viewer };
std::string_view to_string(Role r);

struct OwnerLimits {
  std::optional<std::int64_t> quota_mb;      // guaranteed VRAM MiB, all GPUs together
  std::optional<std::int64_t> limit_mb;      // the most it may hold, borrowing included
  std::optional<std::int64_t> max_running;   // runs at once
  std::optional<std::int64_t> max_queued;    // jobs waiting at once (submits past it: 429)
  std::optional<std::int64_t> max_priority;  // the highest priority it may ask for
  double weight = 1.0;                       // fair share: its share against others'
  bool operator==(const OwnerLimits&) const = default;
};

struct OwnerGroup {
  std::string name;
  OwnerLimits limits;
  bool operator==(const OwnerGroup&) const = default;
};

struct Owner {
  std::string name;
  Role role = Role::user;
  std::string group;  // "" when in none
  OwnerLimits limits;
  std::string run_as;  // the Unix user its jobs run as ("": the server's choice)
  bool operator==(const Owner&) const = default;
};

// A token, as its SHA-256 ("sha256:" + 64 lower-case hex digits), and whom it names.
struct Credential {
  std::string hash;
  std::size_t owner = 0;  // index in Owners::owners
  Role role = Role::user;
  bool operator==(const Credential&) const = default;
};

struct Owners {
  std::vector<Owner> owners;
  std::vector<OwnerGroup> groups;
  std::vector<Credential> credentials;
  const Owner* find(std::string_view name) const;
  const OwnerGroup* group_of(const Owner& owner) const;
  bool operator==(const Owners&) const = default;
};

// The owners file, checked whole: unknown keys, a token that is not a hash, a token named twice,
// an unknown group, a limit below a guarantee, members guaranteed more than their group are all
// errors that name the place. Errors never quote a token's text (it may be a secret pasted in).
Result<Owners> parse_owners(std::string_view toml_text);

// "sha256:" followed by 64 lower-case hex digits.
bool is_token_hash(std::string_view text);

// A Unix user name as useradd accepts it by default (NAME_REGEX of adduser.conf, bounded):
// `run_as` and --run-as.
bool is_unix_user_name(std::string_view name);

// Names of owners and groups: 1-64 characters of letters, digits, '.', '_', '-' and '@'.
bool is_owner_name(std::string_view name);

}  // namespace vramq::core
