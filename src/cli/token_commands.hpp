#pragma once
// `vramq token new` and `vramq token hash`: making bearer tokens for the owners file, which
// stores only their SHA-256 (core/owners.hpp). Local: no server is asked.

#include <iosfwd>

namespace vramq::cli {

// A fresh random token (256 bits, hex) and its hash, on two lines ("token: ...", "hash: ...").
int token_new(std::ostream& out, std::ostream& err);

// Each non-empty line of `in` (a token) as its hash, a line each: `cut -d: -f1 TOKEN_FILE |
// vramq token hash` turns a token file's secrets into owners-file hashes, in order.
int token_hash(std::istream& in, std::ostream& out, std::ostream& err);

}  // namespace vramq::cli
