#pragma once
// Where a job's program is, found as a shell would find it, but without a shell: a name with a
// '/' is used as it is (relative to the job's working directory); a bare name is looked up in the
// directories of the job's own PATH (not the server's), the first executable regular file wins.

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace vramq::exec {

// The path to execute for `program`, or nullopt when a bare name is on none of `path_dirs`
// ("/usr/bin:/bin"; an empty entry is the working directory `cwd`).
std::optional<std::string> find_program(std::string_view program, std::string_view path_dirs,
                                        std::string_view cwd);

// A regular file this process may execute.
bool is_executable_file(const std::string& path);

// The value of PATH in an environment of "KEY=VALUE" strings ("" when it has none).
std::string_view path_of(std::span<const std::string> env);

}  // namespace vramq::exec
