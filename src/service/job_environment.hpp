#pragma once
// The environment a job runs with: a few variables of the server's own (PATH, HOME, locale,
// ...; nothing else leaks), then `extra` (the task's, the client's allowed ones, VRAMQ_*), which
// wins. Sorted "KEY=VALUE" strings, as execve takes them.

#include <string>
#include <utility>
#include <vector>

namespace vramq::service {

std::vector<std::string> job_environment(
    const std::vector<std::pair<std::string, std::string>>& extra);

}  // namespace vramq::service
