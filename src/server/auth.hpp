#pragma once
// Bearer tokens (--token-file): one token per line, `SECRET[:NAME[:admin]]`; blank lines and
// lines starting with '#' are ignored. NAME is who holds it: the owner of the jobs it submits
// (an unnamed token is "token-N", N its place in the file). Only an owner may cancel or purge
// its jobs; an `admin` token may act on every job.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace vramq::server {

struct Token {
  std::string secret;
  std::string name;
  bool admin = false;
};

// Who a request comes from. Without tokens configured everyone is anonymous and may do anything.
struct Principal {
  std::string name;  // "" when anonymous
  bool admin = true;
};

core::Result<std::vector<Token>> parse_tokens(std::string_view text);

// The matching token's holder for an "Authorization: Bearer T" header value, else nullopt. Each
// comparison takes the same time whatever the secret's content.
std::optional<Principal> authenticate(std::string_view authorization,
                                      const std::vector<Token>& tokens);

}  // namespace vramq::server
