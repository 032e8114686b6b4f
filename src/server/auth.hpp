#pragma once
// Bearer tokens (--token-file): one token per line, optionally followed by ":name" (who holds
// it, for logs); blank lines and lines starting with '#' are ignored.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace vramq::server {

struct Token {
  std::string secret;
  std::string name;
};

core::Result<std::vector<Token>> parse_tokens(std::string_view text);

// The matching token's name for an "Authorization: Bearer T" header value, else nullopt. Each
// comparison takes the same time whatever the secret's content.
std::optional<std::string> authenticate(std::string_view authorization,
                                        const std::vector<Token>& tokens);

}  // namespace vramq::server
