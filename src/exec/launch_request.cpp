#include "exec/launch_request.hpp"

#include <charconv>
#include <cstdint>

namespace vramq::exec {
namespace {

// A decimal count, taken with its terminating NUL from the front of `text`.
std::optional<std::size_t> take_count(std::string_view& text) {
  std::size_t end = text.find('\0');
  if (end == std::string_view::npos || end == 0 || end > 9) return std::nullopt;
  std::size_t n = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + end, n);
  if (ec != std::errc{} || p != text.data() + end) return std::nullopt;
  text.remove_prefix(end + 1);
  return n;
}

bool take_strings(std::string_view& text, std::size_t n, std::vector<std::string>& out) {
  // Each string needs at least its NUL: a count above what is left is a lie, refused before
  // anything is reserved for it.
  if (n > text.size()) return false;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    std::size_t end = text.find('\0');
    if (end == std::string_view::npos) return false;
    out.emplace_back(text.substr(0, end));
    text.remove_prefix(end + 1);
  }
  return true;
}

// "key=N" with N a decimal integer in [lo, hi].
std::optional<std::int64_t> field(std::string_view text, std::string_view key, std::int64_t lo,
                                  std::int64_t hi) {
  if (!text.starts_with(key) || text.size() == key.size() || text[key.size()] != '=') {
    return std::nullopt;
  }
  text.remove_prefix(key.size() + 1);
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || p != text.data() + text.size() || v < lo || v > hi) return std::nullopt;
  return v;
}

}  // namespace

std::optional<std::string> encode_launch_request(std::span<const std::string> args,
                                                 std::span<const std::string> env) {
  std::string out = std::to_string(args.size());
  out += '\0';
  out += std::to_string(env.size());
  out += '\0';
  for (std::span<const std::string> list : {args, env}) {
    for (const std::string& s : list) {
      if (s.find('\0') != std::string::npos) return std::nullopt;
      out += s;
      out += '\0';
    }
  }
  return out;
}

std::optional<LaunchRequest> decode_launch_request(std::string_view text) {
  std::optional<std::size_t> args = take_count(text);
  std::optional<std::size_t> env = args ? take_count(text) : std::nullopt;
  LaunchRequest r;
  if (!env || !take_strings(text, *args, r.args) || !take_strings(text, *env, r.env) ||
      !text.empty()) {
    return std::nullopt;
  }
  return r;
}

std::string encode_launch_reply(const LaunchReply& r) {
  return r.error != 0 ? "errno=" + std::to_string(r.error) : "pid=" + std::to_string(r.pid);
}

std::optional<LaunchReply> decode_launch_reply(std::string_view text) {
  if (auto pid = field(text, "pid", 1, INT32_MAX)) {
    return LaunchReply{.pid = static_cast<pid_t>(*pid), .error = 0};
  }
  if (auto err = field(text, "errno", 1, 4095)) {
    return LaunchReply{.pid = 0, .error = static_cast<int>(*err)};
  }
  return std::nullopt;
}

}  // namespace vramq::exec
