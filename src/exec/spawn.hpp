#pragma once
// Starting processes: the NULL-terminated arrays execve wants, and the detached spawn that starts
// a supervisor (the spawn path) or the supervisor launcher: its own session, no signal blocked and
// every disposition the default, the given descriptors as 3, 4, ..., stdin and stdout on
// /dev/null, stderr the server's (what goes wrong in a supervisor itself lands in the server's
// log), and nothing else of the server's (its listening socket, the store, the data directory's
// lock).

#include <sys/types.h>

#include <span>
#include <string>
#include <vector>

namespace vramq::exec {

// Pointers into `v` (which must outlive them), then a null.
std::vector<char*> c_strings(std::span<const std::string> v);

// posix_spawn's error (0: started, `pid` set). `fds` may be anywhere, even among 3, 4, ...:
// they are moved out of the way before they are put in place.
int spawn_detached(const std::vector<std::string>& args, const std::vector<std::string>& env,
                   std::span<const int> fds, pid_t& pid);

}  // namespace vramq::exec
