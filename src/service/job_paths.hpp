#pragma once
// The names of a job's log files in its directory: the one place that names them.

#include <fmt/format.h>
#include <string>
#include <string_view>

namespace vramq::service {

// The current attempt's stdout or stderr.
inline std::string log_path(const std::string& job_dir, std::string_view stream) {
  return job_dir + (stream == "stderr" ? "/stderr.log" : "/stdout.log");
}

// An earlier attempt's log, kept beside the current one when the job was retried.
inline std::string attempt_log_path(const std::string& job_dir, std::string_view stream,
                                    int attempt) {
  return fmt::format("{}/attempt-{}.{}.log", job_dir, attempt,
                     stream == "stderr" ? "stderr" : "stdout");
}

}  // namespace vramq::service
