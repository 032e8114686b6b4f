#pragma once
// What is read off the loop about running jobs' progress (job_progress.cpp): a stat of each one's
// stderr log and VRAMQ_PROGRESS_FILE, and a read of their last few KiB only when they grew.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/job.hpp"
#include "core/progress.hpp"

namespace vramq::service {

struct ProgressProbe {
  core::JobId job = 0;
  int attempt = 0;
  std::string stderr_path;
  std::string report_path;
  std::int64_t stderr_size_read = -1;
  std::int64_t report_size_read = -1;
  bool reports = false;
};

struct ProgressRead {
  core::JobId job = 0;
  int attempt = 0;  // a read of an attempt that has ended since is dropped
  std::int64_t stderr_size = -1;
  std::int64_t report_size = -1;
  std::optional<core::Progress> tqdm;    // from stderr, when it grew and ends with a bar
  std::optional<core::Progress> report;  // from the report file, when it grew
};

// Off the loop (the file thread).
std::vector<ProgressRead> read_progress_files(const std::vector<ProgressProbe>& probes);

}  // namespace vramq::service
