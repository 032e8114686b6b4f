#pragma once
// A submission as the API hands it over (SubmitRequest), the errors it can get (SubmitError), and
// how it becomes a job (make_job): a raw command (only with --allow-raw-commands, its program
// found on the job's PATH) or a catalog task with its parameters resolved, checked against what
// the task allows, its reservation learned from earlier runs where the task says so. What a kind
// of run can never run is the kind's to say (RunKind::refuses), after this. Pure but for the
// PATH lookup and the parameters' real paths.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/system/result.hpp>

#include "core/config.hpp"
#include "core/footprints.hpp"
#include "core/job.hpp"
#include "core/task_catalog.hpp"
#include "service/job_inputs.hpp"

namespace vramq::service {

struct SubmitRequest {
  std::string task;  // a catalog task, or empty with `command`
  std::vector<std::pair<std::string, core::ParamInput>> params;
  std::vector<std::string> command;  // raw argv (only with --allow-raw-commands)
  std::optional<std::int64_t> vram_mb;
  int priority = 0;
  std::optional<std::int64_t> timeout_s;
  int max_retries = 0;
  std::int64_t retry_delay_s = 0;
  std::vector<core::JobId> after_ok;   // must succeed first
  std::vector<core::JobId> after_any;  // must end first, however
  int gpus = 1;                        // how many GPUs at once, each with vram_mb
  std::string name;
  std::vector<std::pair<std::string, std::string>> labels;
  std::string owner;                // who sends it (the token's holder; "" without tokens)
  std::optional<bool> preemptible;  // absent: the task's default (raw commands: false)
  std::vector<std::pair<std::string, std::string>> env;
  // Idempotency-Key: a retry with the same key and body gets the first job back (for 24 h).
  std::string idempotency_key;
  std::string body_hash;  // of the request body, to tell a retry from a reuse of the key
  // Files uploaded with it (file parameters), staged; adopted by the job once it is stored.
  std::shared_ptr<StagedInputs> inputs;
};

enum class SubmitErrc {
  forbidden,
  unprocessable,
  queue_full,
  draining,
  store_failed,  // the store refused the row (not a store fault: a bug)
  conflict,
  storage_full,       // the data directory's disk is full (507)
  store_unavailable,  // the store cannot write: its lock is held, or a write or fsync failed
};

struct SubmitError {
  SubmitErrc code = SubmitErrc::unprocessable;
  std::string field;  // what the error is about, e.g. "params.seconds" ("" if none)
  std::string detail;
  std::int64_t retry_after_s = 0;  // queue_full, storage_full, store_unavailable
};

// What a job is made with besides the request.
struct JobContext {
  const core::Config& config;
  const core::TaskCatalog& catalog;
  const core::Footprints& footprints;
  std::string dir;              // the job's directory
  std::int64_t largest_mb = 0;  // the most any one GPU can give (learned reservations stop there)
  std::int64_t now_ms = 0;
};

// The job `req` asks for, as job `id` (its request's vectors are moved from).
boost::system::result<core::Job, SubmitError> make_job(SubmitRequest& req, core::JobId id,
                                                       const JobContext& ctx);

}  // namespace vramq::service
