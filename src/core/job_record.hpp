#pragma once
// A job packed into one contiguous string, for jobs that wait in memory: a queued job is read
// only when it starts, is shown, or is cancelled, so it is kept as one allocation of its bytes
// (about 150 B for a typical job) instead of a core::Job with a dozen separately allocated
// members (about 600 B). Native byte order: records never leave the process.

#include <string>
#include <string_view>

#include "core/error.hpp"
#include "core/job.hpp"

namespace vramq::core {

std::string pack_job(const Job& job);

// The job pack_job() packed; an error only for bytes pack_job() did not produce.
Result<Job> unpack_job(std::string_view record);

}  // namespace vramq::core
