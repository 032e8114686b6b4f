#pragma once
// A job submitted with its files (issue 25): POST /v1/jobs as multipart/form-data, the job's
// JSON first as a part named "job", then one part per file parameter, named after it; or small
// files inline in the JSON as data: URLs. Files go to a staging directory as they arrive
// (service/job_inputs.hpp), never held whole in memory, and each is checked while it streams:
// its parameter must be a file parameter of the job's task (422), within its max_bytes and the
// server's --max-upload-bytes (413, naming the parameter or the option), of a media type the
// parameter takes as its content tells (415), and within the room the data directory's disk
// has above --upload-reserve-mb (507). A refused upload leaves nothing behind. Loop only; file
// writes go to the upload thread.

#include <boost/asio/awaitable.hpp>
#include <memory>
#include <optional>
#include <string_view>

#include "server/http_types.hpp"
#include "service/orchestrator.hpp"

namespace vramq::server {

// The sink for a submit whose Content-Type is multipart/form-data; the 400 to answer when that
// type is malformed. `content_length`: the body's declared size, if it has one.
boost::system::result<std::unique_ptr<BodySink>, Response> upload_reader(
    std::string_view content_type, std::optional<std::uint64_t> content_length,
    service::Orchestrator& o);

// The submission's file parameters given as data: URLs ("data:[type][;base64],DATA") are
// decoded into its staged inputs (made when it has none) and leave its params; each is checked
// as an uploaded part is. Parameters that are not files of its task are left alone.
boost::asio::awaitable<std::optional<Response>> stage_data_urls(service::SubmitRequest& req,
                                                                service::Orchestrator& o);

}  // namespace vramq::server
