#pragma once
// Bearer tokens. Two files name them: the owners file (--owners, core/owners.hpp: owners with
// roles, groups and limits, tokens stored as SHA-256 hashes) and the older token file
// (--token-file): one token per line, `SECRET[:NAME[:admin]]`; blank lines and lines starting
// with '#' are ignored. NAME is who holds it: the owner of the jobs it submits (an unnamed token
// is "token-N", N its place in the file). The token file maps onto owners: one per name, each
// token a credential with the role of its line (admin, else user). The server keeps only the
// hashes either way and compares the hash of what a request presents.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "core/owners.hpp"

namespace vramq::server {

struct Token {
  std::string secret;
  std::string name;
  bool admin = false;
};

// Who a request comes from. Without tokens configured everyone is anonymous and may do anything.
struct Principal {
  std::string name;  // "" when anonymous
  core::Role role = core::Role::admin;
};

core::Result<std::vector<Token>> parse_tokens(std::string_view text);

// The token file's tokens as owners (no limits): hashed here, the secrets are not kept.
core::Owners owners_from_tokens(const std::vector<Token>& tokens);

// "sha256:" and the hex SHA-256 of a token's secret: what the owners file stores.
std::string token_hash(std::string_view secret);

// The matching credential's owner and role for an "Authorization: Bearer T" header value, else
// nullopt. Every credential is compared, each in the same time whatever its content: the time
// taken does not tell which one matched, nor how much of one did.
std::optional<Principal> authenticate(std::string_view authorization, const core::Owners& owners);

}  // namespace vramq::server
