#pragma once
// The rules of a catalog parameter of type file (core/task_catalog.hpp): what an upload for it
// must be, checked as it streams in (server/upload_reader) and again when the job is made
// (service/job_request). Pure.

#include <cstdint>
#include <string_view>

#include "core/error.hpp"
#include "core/task_catalog.hpp"

namespace vramq::core {

// Whether an upload of `bytes` so far (or in all) fits file parameter `p`; an error naming the
// parameter and its limit.
Result<void> check_upload_size(const ParamDef& p, std::int64_t bytes);
// Whether an upload's media type (as sniffed) is one file parameter `p` takes.
Result<void> check_upload_type(const ParamDef& p, std::string_view media_type);
// Whether a file parameter's name can be its upload's file name in a job's inputs/: letters,
// digits, '_', '-' and '.', not "." or "..".
bool plain_file_name(std::string_view name);

}  // namespace vramq::core
