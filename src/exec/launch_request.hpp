#pragma once
// What the server sends the supervisor launcher (exec/launcher.hpp) to start one supervisor, and
// what the launcher answers: one SOCK_SEQPACKET message each way. The request's descriptors (the
// attach socket, the run file, a warm worker's stdio, in the order SupervisorOptions gives them
// as 3, 4, 5) travel with it as SCM_RIGHTS. Pure and Boost-free (the launcher is
// vramq-supervise); unit-tested and fuzzed (fuzz_launch_request).

#include <sys/types.h>

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace vramq::exec {

struct LaunchRequest {
  std::vector<std::string> args;  // the supervisor's command line, less its argv[0]
  std::vector<std::string> env;   // the supervisor's environment (the job's)

  bool operator==(const LaunchRequest&) const = default;
};

// The largest request sent (a message must fit the socket's buffer whole; a larger one, an
// enormous environment, goes by the spawn path instead) and the most descriptors one carries.
inline constexpr std::size_t kMaxLaunchRequestBytes = 160 << 10;
inline constexpr std::size_t kMaxLaunchFds = 3;

// "<args>\0<env>\0" as decimal counts, then each string NUL-terminated. nullopt when a string
// holds a NUL (no command line can) or the counts do not match what follows.
// (Spans: the server sends its spawn command line and the job's environment without copying
// them into a LaunchRequest on every start.)
std::optional<std::string> encode_launch_request(std::span<const std::string> args,
                                                 std::span<const std::string> env);
inline std::optional<std::string> encode_launch_request(const LaunchRequest& r) {
  return encode_launch_request(r.args, r.env);
}
std::optional<LaunchRequest> decode_launch_request(std::string_view text);

// The answer: the forked supervisor's PID, or the errno of a fork that failed.
struct LaunchReply {
  pid_t pid = 0;
  int error = 0;

  bool operator==(const LaunchReply&) const = default;
};
std::string encode_launch_reply(const LaunchReply& r);
std::optional<LaunchReply> decode_launch_reply(std::string_view text);

}  // namespace vramq::exec
