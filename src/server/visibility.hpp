#pragma once
// Private jobs (issue 24): with tokens and --visibility owner (the default), a job's params,
// command, name, labels, dependencies, output, error, warnings, progress, logs, files and its
// events' details are its owner's and admins' only. Anyone else sees it as a queue listing (or
// Slurm's squeue) shows it: id, owner, task, state and reasons, VRAM, GPUs, priority, times
// (json_codec's redact_job), and gets 404 for its logs and files. Every route that shows a job
// asks here.

#include <string_view>

#include <fmt/format.h>
#include <boost/json/object.hpp>
#include <string>

#include "core/config.hpp"
#include "core/job.hpp"
#include "server/http_types.hpp"
#include "server/problem.hpp"

namespace vramq::server {

// Whether some readers see some jobs only as a listing shows them (tokens, --visibility owner).
inline bool jobs_are_private(const core::Config& config) {
  return (!config.owners_file.empty() || !config.token_file.empty()) &&
         config.visibility == "owner";
}

// Whether `req`'s sender reads everything of every job (an admin, or --visibility all; anyone
// without tokens, who is an admin then).
inline bool reads_every_job(const Request& req, const core::Config& config) {
  return req.admin() || config.visibility == "all";
}

// Whether `req`'s sender reads everything of a job owned by `owner`.
inline bool reads_all_of(const Request& req, std::string_view owner, const core::Config& config) {
  return reads_every_job(req, config) || owner == req.principal;
}

// The 404 for `what` ("logs", "files") of a job the sender may not read.
inline Response private_job(const core::Job& job, std::string_view what) {
  return problem(
      Problem::not_found,
      fmt::format("job {} belongs to {}: its {} are its owner's and admins' only", job.id,
                  job.spec.owner.empty() ? "no token holder" : job.spec.owner, what),
      "id");
}

// A job as someone other than its owner or an admin sees it: the private members keep their
// keys, emptied (null, {} or []), and "private": true says so.
void redact_job(boost::json::object& job);
// The same on a job's JSON text (an event's payload).
std::string redacted_job_text(std::string_view job_json);

}  // namespace vramq::server
