// POST /v1/jobs and GET /v1/jobs/{id}.
#include <fmt/format.h>
#include <boost/json.hpp>
#include <charconv>

#include "server/json_codec.hpp"
#include "server/problem.hpp"
#include "server/router.hpp"

namespace vramq::server {
namespace {

constexpr std::int64_t kMaxWaitS = 3600;

// ?wait=S: seconds to hold the answer until the job ends (0..3600, fractions allowed).
boost::system::result<std::chrono::milliseconds, Response> wait_param(const Request& req) {
  auto text = req.query_param("wait");
  if (!text) return std::chrono::milliseconds(0);
  double s = -1;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), s);
  if (ec != std::errc{} || end != text->data() + text->size() || !(s >= 0) || s > kMaxWaitS) {
    return problem(
        Problem::bad_request,
        fmt::format("wait must be a number of seconds from 0 to {}, got '{}'", kMaxWaitS, *text),
        "wait");
  }
  return std::chrono::milliseconds(static_cast<std::int64_t>(s * 1000));
}

Response job_response(int status, const service::JobView& v) {
  return Response{.status = status, .body = boost::json::serialize(job_to_json(v))};
}

Response submit_error(const service::SubmitError& e) {
  switch (e.code) {
    case service::SubmitErrc::forbidden:
      return problem(Problem::forbidden, e.detail, e.field);
    case service::SubmitErrc::unprocessable:
      return problem(Problem::unprocessable, e.detail, e.field);
    case service::SubmitErrc::queue_full: {
      Response r = problem(Problem::too_many_requests, e.detail);
      r.headers.emplace_back("Retry-After", std::to_string(e.retry_after_s));
      return r;
    }
    case service::SubmitErrc::draining:
      return problem(Problem::unavailable, e.detail);
    case service::SubmitErrc::store_failed:
      return problem(Problem::internal, e.detail);
  }
  return problem(Problem::internal, e.detail);
}

}  // namespace

boost::asio::awaitable<Response> handle_submit(const Request& req, service::Orchestrator& o) {
  auto wait = wait_param(req);
  if (!wait) co_return wait.error();
  auto parsed = parse_submit(req.body);
  if (!parsed)
    co_return problem(Problem::bad_request, parsed.error().message, parsed.error().field);
  auto submitted = co_await o.submit(std::move(*parsed));
  if (!submitted) co_return submit_error(submitted.error());
  service::JobView v = std::move(*submitted);
  if (wait->count() > 0 && !core::is_terminal(v.job.state)) {
    auto waited = co_await o.wait(v.job.id, *wait);
    if (waited && *waited) v = std::move(**waited);
  }
  Response r = job_response(core::is_terminal(v.job.state) ? 200 : 202, v);
  r.headers.emplace_back("Location", fmt::format("/v1/jobs/{}", v.job.id));
  co_return r;
}

boost::asio::awaitable<Response> handle_get_job(const Request& req, std::string_view id_text,
                                                service::Orchestrator& o) {
  core::JobId id = 0;
  auto [end, ec] = std::from_chars(id_text.data(), id_text.data() + id_text.size(), id);
  if (ec != std::errc{} || end != id_text.data() + id_text.size() || id <= 0) {
    co_return problem(Problem::not_found,
                      fmt::format("no job '{}': job ids are positive integers", id_text), "id");
  }
  auto wait = wait_param(req);
  if (!wait) co_return wait.error();
  auto found = co_await o.wait(id, *wait);
  if (!found) co_return problem(Problem::internal, found.error().message);
  if (!*found) co_return problem(Problem::not_found, fmt::format("no job {}", id), "id");
  co_return job_response(200, **found);
}

}  // namespace vramq::server
