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
  std::int64_t bytes = 0;  // all its files together (--max-upload-bytes)
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
  // A new, empty staging directory, or the errno of mkdtemp (blocking: on the upload thread).
  boost::system::result<std::shared_ptr<StagedInputs>, int> stage();
  // Bytes uploads in progress have written or are about to (loop only): a new upload's room on
  // the disk is what statvfs says less these, so that concurrent uploads cannot all count on the
  // same free space.
  std::int64_t in_flight() const { return in_flight_; }
  void claim(std::int64_t bytes) { in_flight_ += bytes; }
  void release(std::int64_t bytes) { in_flight_ -= bytes; }
  // Job `id` takes the staged files: renamed to uploads/job-ID and synced (files, then the
  // directory entries). 0, or the errno of what failed. Loop only; the work runs on the upload
  // thread.
  boost::asio::awaitable<int> adopt(StagedInputs& staged, core::JobId id);
  // At a job's start: moves uploads/job-ID (when it has one) to JOB_DIR/inputs. Loop; one
  // rename, nothing for a job without uploads. An error names what failed (the files stay for a
  // retry, or for discard()).
  core::Result<void> move_into(core::JobId id, const std::string& job_dir);
  // A job that has ended: its staged files, if it never read them, are removed. Loop.
  void discard(core::JobId id);
  // At start-up: removes staging directories and those of jobs not in `waiting`, and keeps the
  // others for their jobs' starts. Blocking.
  void sweep(const std::set<core::JobId>& waiting);

  std::string job_dir_of(core::JobId id) const;

 private:
  friend class StagedInputs;
  void remove_later(std::string dir);
  // Opens the staged files to the job's user, syncs them and renames their directory (the
  // upload thread).
  struct Kept {
    int error = 0;         // 0, or the errno of what failed
    bool renamed = false;  // under the job's id (the job owns it even if a sync failed)
  };
  boost::asio::awaitable<Kept> keep(std::string from, std::string to,
                                    std::vector<std::string> names);
  std::string root_;  // DATA_DIR/uploads
  // Jobs whose files are in uploads/job-ID, not yet moved (loop only).
  std::set<core::JobId> staged_;
  std::int64_t in_flight_ = 0;
  util::Worker worker_;
};

}  // namespace vramq::service
