#pragma once
// Files a client uploads with a job (catalog parameters of type file), from the request that
// brings them to the job that reads them. Where they are:
//   DATA_DIR/uploads/tmp-RANDOM/NAME  while the request streams them in (removed if it fails);
//   DATA_DIR/uploads/job-ID/NAME      once the job is about to be stored (renamed, fsynced, before
//                                     the job's row: a stored job never lacks its inputs);
//   DATA_DIR/jobs/ID/inputs/NAME      from its first start on (renamed into its directory).
// uploads/ is 0700: nothing is readable there by jobs or other users. A start moves the files
// into the job's directory before that is given to the job's user (files 0644, inputs/ 0755,
// inside a directory only that user enters). At start-up, staging directories and those of jobs
// that are not waiting any more are removed. Every call that writes or syncs runs on the upload
// thread (its own, so that a slow disk under a large upload stalls neither the loop nor the
// file thread that log readers share); moves at a job's start are one rename, on the loop.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "core/job.hpp"
#include "util/worker.hpp"

namespace vramq::service {

class JobInputs;

// One uploaded file as it was checked.
struct StagedFile {
  std::string param;       // the catalog parameter (and the file's name)
  std::int64_t bytes = 0;  // its size
  std::string media_type;  // as its content tells (core::sniff_media_type)
};

// A request's uploads: a staging directory and its files. Removed when the last owner lets go,
// unless a job adopted them (JobInputs::adopt).
class StagedInputs {
 public:
  StagedInputs(std::shared_ptr<JobInputs> inputs, std::string dir);
  ~StagedInputs();
  StagedInputs(const StagedInputs&) = delete;
  StagedInputs& operator=(const StagedInputs&) = delete;

  const std::string& dir() const { return dir_; }
  std::vector<StagedFile> files;
  // SHA-256 over the job's JSON and each file (name, size, bytes), for Idempotency-Key: a retry
  // with other multipart boundaries is the same request.
  std::string digest;

 private:
  friend class JobInputs;
  std::shared_ptr<JobInputs> inputs_;
  std::string dir_;
  bool adopted_ = false;
};

class JobInputs : public std::enable_shared_from_this<JobInputs> {
 public:
  JobInputs(boost::asio::io_context& ioc, std::string data_dir);
  // At start-up: makes DATA_DIR/uploads (0700) if it is missing, and checks it. Blocking.
  core::Result<void> prepare();

  util::Worker& worker() { return worker_; }
  // A new, empty staging directory (blocking: on the upload thread).
  core::Result<std::shared_ptr<StagedInputs>> stage();
  // Job `id` takes the staged files: renamed to uploads/job-ID and synced (files, then the
  // directory entries). Loop only; the work runs on the upload thread.
  boost::asio::awaitable<core::Result<void>> adopt(StagedInputs& staged, core::JobId id);
  // At a job's start: moves uploads/job-ID (when it has one) to JOB_DIR/inputs. Loop; a rename
  // and chmods, nothing for a job without uploads. An error names what failed.
  core::Result<void> move_into(core::JobId id, const std::string& job_dir);
  // A job that ends without having started: its staged files are removed. Loop.
  void discard(core::JobId id);
  // At start-up: removes staging directories and those of jobs not in `waiting`, and keeps the
  // others for their jobs' starts. Blocking.
  void sweep(const std::set<core::JobId>& waiting);

  std::string job_dir_of(core::JobId id) const;

 private:
  friend class StagedInputs;
  void remove_later(std::string dir);
  // Syncs the staged files and renames their directory (the upload thread): 0 or an errno.
  boost::asio::awaitable<int> keep(std::string from, std::string to,
                                   std::vector<std::string> names);
  std::string root_;  // DATA_DIR/uploads
  // Jobs whose files are in uploads/job-ID, not yet moved (loop only).
  std::set<core::JobId> staged_;
  util::Worker worker_;
};

}  // namespace vramq::service
