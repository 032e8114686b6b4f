#include "exec/program_path.hpp"

#include <sys/stat.h>
#include <unistd.h>

namespace vramq::exec {
bool is_executable_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

std::optional<std::string> find_program(std::string_view program, std::string_view path_dirs,
                                        std::string_view cwd) {
  if (program.empty()) return std::nullopt;
  if (program.find('/') != std::string_view::npos) return std::string(program);
  while (true) {
    std::size_t colon = path_dirs.find(':');
    std::string dir(path_dirs.substr(0, colon));
    if (dir.empty()) dir = cwd.empty() ? "." : std::string(cwd);
    if (dir.front() != '/' && !cwd.empty()) dir.insert(0, std::string(cwd) + "/");
    std::string candidate = dir;
    candidate.append("/").append(program);
    if (is_executable_file(candidate)) return candidate;
    if (colon == std::string_view::npos) return std::nullopt;
    path_dirs.remove_prefix(colon + 1);
  }
}

std::string_view path_of(std::span<const std::string> env) {
  for (const std::string& kv : env) {
    if (kv.starts_with("PATH=")) return std::string_view(kv).substr(5);
  }
  return {};
}

}  // namespace vramq::exec
