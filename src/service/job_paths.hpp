#pragma once
// The names of the files vramq keeps in a job's directory: the one place that names them.

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

// Where a job reports its progress explicitly (VRAMQ_PROGRESS_FILE; exec/progress_report.hpp).
inline std::string progress_path(const std::string& job_dir) {
  return job_dir + "/progress.jsonl";
}

// A cluster job's use as its batch step measures it on the node (app/batch_step.hpp): now, and
// the most so far (MiB, highest on one GPU).
inline std::string measured_now_path(const std::string& job_dir) {
  return job_dir + "/vram-now-mb";
}
inline std::string measured_peak_path(const std::string& job_dir) {
  return job_dir + "/vram-peak-mb";
}

}  // namespace vramq::service
