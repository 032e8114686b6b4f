#include "cli/token_commands.hpp"

#include <sys/random.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <iostream>
#include <string>

#include "cli/client_commands.hpp"
#include "core/text.hpp"
#include "server/auth.hpp"

namespace vramq::cli {

int token_new(std::ostream& out, std::ostream& err) {
  std::array<unsigned char, 32> bytes{};
  if (::getrandom(bytes.data(), bytes.size(), 0) != static_cast<ssize_t>(bytes.size())) {
    err << "vramq token new: no random bytes from the kernel: " << std::strerror(errno) << "\n";
    return 1;
  }
  constexpr char kHex[] = "0123456789abcdef";
  std::string token;
  for (unsigned char b : bytes) {
    token.push_back(kHex[b >> 4]);
    token.push_back(kHex[b & 0xf]);
  }
  out << "token: " << token << "\nhash: " << server::token_hash(token) << "\n";
  return 0;
}

int token_hash(std::istream& in, std::ostream& out, std::ostream& err) {
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    std::string_view token = core::trim(line);
    if (token.empty()) continue;
    ++n;
    if (token.size() < 16) {  // as the token file demands
      err << "vramq token hash: token " << n << ": a token must be at least 16 characters\n";
      return kExitUsage;
    }
    out << server::token_hash(token) << "\n";
  }
  if (n == 0) {
    err << "vramq token hash: give the token on standard input (echo \"$TOKEN\" | vramq token "
           "hash)\n";
    return kExitUsage;
  }
  return 0;
}

}  // namespace vramq::cli
