#pragma once
// Who jobs run as (issue 24, item 6): an owner's `run_as`, else --run-as, else vramq's own user.
// Resolved by the server through NSS whenever the owners are (re)loaded (app/job_users.hpp), so
// that the loop only looks names up here; replaced whole, with the owners it was made from.

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "util/unix_user.hpp"

namespace vramq::service {

struct JobUsers {
  std::optional<util::UnixUser> fallback;                     // --run-as
  std::map<std::string, util::UnixUser, std::less<>> owners;  // by owner name: its run_as

  // Who a job of `owner` runs as; nullptr: as vramq's own user.
  const util::UnixUser* of(std::string_view owner) const {
    auto it = owners.find(owner);
    if (it != owners.end()) return &it->second;
    return fallback ? &*fallback : nullptr;
  }
  bool any() const { return fallback || !owners.empty(); }
};

}  // namespace vramq::service
