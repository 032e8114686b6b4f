// Orchestrator: the progress of running jobs (issue 13), read without the model's help. At each
// poll, the stderr log and the VRAMQ_PROGRESS_FILE of every running job are looked at off the
// loop (a stat each; a read of their last few KiB only when they grew), parsed (core/progress,
// exec/progress_report), and a change is kept on the job and published with it. A job that has
// written an explicit report is judged by its reports from then on; its tqdm bars are ignored.
// Warm workers' runs also report through their protocol's `progress` messages.
#include <algorithm>
#include <filesystem>

#include "exec/progress_report.hpp"
#include "service/job_paths.hpp"
#include "service/orchestrator.hpp"
#include "service/progress_files.hpp"
#include "util/untrusted_files.hpp"

namespace vramq::service {
using core::JobId;

namespace {

// What is read of a log's end: a tqdm line is ~100 bytes, redrawn every 0.1 s at most.
constexpr std::size_t kTailBytes = 4096;

std::int64_t size_of(const std::string& path) {
  return util::regular_size(path).value_or(-1);  // a link is not followed
}

}  // namespace

std::vector<ProgressRead> read_progress_files(const std::vector<ProgressProbe>& probes) {
  std::vector<ProgressRead> out;
  for (const ProgressProbe& p : probes) {
    ProgressRead r{.job = p.job,
                   .attempt = p.attempt,
                   .stderr_size = p.stderr_size_read,
                   .report_size = size_of(p.report_path),
                   .tqdm = std::nullopt,
                   .report = std::nullopt};
    if (r.report_size > 0 && r.report_size != p.report_size_read) {
      r.report = exec::parse_progress_report(util::read_tail(p.report_path, kTailBytes));
    }
    if (!p.reports && !r.report) {
      r.stderr_size = size_of(p.stderr_path);
      if (r.stderr_size > 0 && r.stderr_size != p.stderr_size_read) {
        r.tqdm = core::parse_tqdm(util::read_tail(p.stderr_path, kTailBytes));
      }
    }
    out.push_back(std::move(r));
  }
  return out;
}

void Orchestrator::read_progress() {
  if (running_.empty()) return;
  std::vector<ProgressProbe> probes;
  for (const auto& [id, r] : running_) {
    probes.push_back({.job = id,
                      .attempt = active_.at(id).attempt,
                      .stderr_path = log_path(r.job_dir, "stderr"),
                      .report_path = progress_path(r.job_dir),
                      .stderr_size_read = r.stderr_size_read,
                      .report_size_read = r.report_size_read,
                      .reports = r.reports});
  }
  files_.read_progress(std::move(probes), [this](std::vector<ProgressRead> reads) {
    for (ProgressRead& read : reads) {
      auto it = running_.find(read.job);
      if (it == running_.end() || active_.at(read.job).attempt != read.attempt) {
        continue;  // it ended (or was retried) meanwhile
      }
      Run& r = it->second;
      r.stderr_size_read = read.stderr_size;
      r.report_size_read = read.report_size;
      if (read.report) {
        r.reports = true;
        r.set_progress(active_.at(read.job), std::move(*read.report));
      } else if (read.tqdm && !r.reports) {
        r.set_progress(active_.at(read.job), std::move(*read.tqdm));
      }
    }
    publish_readings();
  });
}

}  // namespace vramq::service
