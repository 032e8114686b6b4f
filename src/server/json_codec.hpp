#pragma once
// JSON in and out of the API: decoding a submission (every field checked, unknown fields
// refused) and encoding jobs, GPUs and tasks. One place for the wire shapes.

#include <boost/json/object.hpp>
#include <boost/system/result.hpp>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/footprints.hpp"
#include "core/task_catalog.hpp"
#include "service/orchestrator.hpp"

namespace vramq::server {

struct FieldError {
  std::string field;    // "" for the body as a whole
  std::string message;  // names the field and what was expected
};

boost::system::result<service::SubmitRequest, FieldError> parse_submit(std::string_view body);

// A label key as a submission may give it (also for ?label=KEY=VALUE filters).
bool valid_label_key(std::string_view key);

// `with_output`: false for list items, which leave the (up to 64 KiB) output out.
boost::json::object job_to_json(const service::JobView& v, bool with_output = true);
boost::json::object gpus_to_json(const std::vector<service::GpuStatus>& gpus,
                                 std::int64_t buffer_mb, std::string_view kind);
// One item of GET /v1/gpus, as a `gpu` event carries it.
boost::json::object gpu_to_json(const service::GpuStatus& g);
// One item of GET /v1/workers, as a `worker` event carries it.
boost::json::object worker_to_json(const service::WorkerStatus& w);
// The data of a `queue` event.
// `names`: false when jobs are private (server/visibility.hpp): the head is shared by every
// reader, and a job's name is its owner's.
boost::json::object queue_head_to_json(const service::QueueHead& q, bool names = true);
// GET /v1/workers: the resident warm workers.
boost::json::object workers_to_json(const std::vector<service::WorkerStatus>& workers);
// The catalog, each task with its declared VRAM rule and its learned footprints side by side.
boost::json::object tasks_to_json(const core::TaskCatalog& catalog,
                                  const core::Footprints& footprints);

// Unix milliseconds -> "2026-11-25T13:23:24.123Z" (RFC 3339, UTC).
std::string rfc3339(std::int64_t unix_ms);

}  // namespace vramq::server
