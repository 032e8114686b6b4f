#include "server/auth.hpp"

#include "core/text.hpp"
#include "util/sha256.hpp"

#include <fmt/format.h>

namespace vramq::server {
using core::trim;

namespace {

// Constant time in the content (not the length) of the strings.
bool same(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ (i < b.size() ? b[i] : 0));
  }
  return diff == 0;
}

}  // namespace

core::Result<std::vector<Token>> parse_tokens(std::string_view text) {
  std::vector<Token> tokens;
  int line_no = 0;
  while (!text.empty()) {
    ++line_no;
    std::size_t nl = text.find('\n');
    std::string_view line = trim(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (line.empty() || line.front() == '#') continue;
    std::size_t colon = line.find(':');
    std::string_view rest =
        colon == std::string_view::npos ? std::string_view() : line.substr(colon + 1);
    std::size_t role = rest.find(':');
    Token t{.secret = std::string(trim(line.substr(0, colon))),
            .name = std::string(trim(rest.substr(0, role))),
            .admin = false};
    if (role != std::string_view::npos) {
      std::string_view what = trim(rest.substr(role + 1));
      if (what != "admin") {
        return core::Error{fmt::format(
            "token file line {}: '{}' after the name must be 'admin' (SECRET:NAME:admin)", line_no,
            what)};
      }
      t.admin = true;
    }
    if (t.name.empty()) t.name = fmt::format("token-{}", tokens.size() + 1);
    if (t.secret.size() < 16) {
      return core::Error{
          fmt::format("token file line {}: a token must be at least 16 characters", line_no)};
    }
    tokens.push_back(std::move(t));
  }
  if (tokens.empty()) return core::Error{"the token file holds no token"};
  return tokens;
}

std::string token_hash(std::string_view secret) {
  return "sha256:" + util::sha256_hex(secret);
}

core::Owners owners_from_tokens(const std::vector<Token>& tokens) {
  core::Owners out;
  for (const Token& t : tokens) {
    const core::Owner* known = out.find(t.name);
    std::size_t index =
        known != nullptr ? static_cast<std::size_t>(known - out.owners.data()) : out.owners.size();
    if (known == nullptr) out.owners.push_back({.name = t.name});
    core::Role role = t.admin ? core::Role::admin : core::Role::user;
    // The owner's own role (what `vramq owners` shows): admin if any of its tokens is.
    if (t.admin) out.owners[index].role = core::Role::admin;
    out.credentials.push_back({.hash = token_hash(t.secret), .owner = index, .role = role});
  }
  return out;
}

std::optional<Principal> authenticate(std::string_view authorization, const core::Owners& owners) {
  constexpr std::string_view kScheme = "Bearer ";
  if (authorization.size() <= kScheme.size() ||
      authorization.substr(0, kScheme.size()) != kScheme) {
    return std::nullopt;
  }
  std::string given = token_hash(trim(authorization.substr(kScheme.size())));
  std::optional<Principal> who;
  for (const core::Credential& c : owners.credentials) {  // no early exit
    if (same(given, c.hash)) who = Principal{.name = owners.owners[c.owner].name, .role = c.role};
  }
  return who;
}

}  // namespace vramq::server
