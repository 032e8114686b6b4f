// The Orchestrator's removal of ended jobs (DELETE /v1/jobs/{id}?purge=1, `vramq rm`): the
// job's row and keys go from the store, then its directory from the disk. Live jobs are refused.
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/asio/use_awaitable.hpp>
#include <filesystem>
#include <memory>

#include "service/orchestrator.hpp"
#include "util/confined_files.hpp"

namespace vramq::service {
namespace asio = boost::asio;
using core::JobId;

namespace {

// A store purge as an awaitable operation.
template <class Token>
auto async_purge(store::Store& store, JobId id, Token&& token) {
  return asio::async_initiate<Token, void(core::Result<void>)>(
      [&store](auto handler, JobId job) {
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        store.purge(job, [shared](const core::Result<void>& r) { std::move (*shared)(r); });
      },
      token, id);
}

}  // namespace

asio::awaitable<core::Result<PurgeResult>> Orchestrator::purge(JobId id, Caller caller) {
  if (!ended(id)) co_return PurgeResult{.outcome = PurgeOutcome::active, .job = std::nullopt};
  std::optional<core::Job> job;
  if (auto s = ending_.settling.find(id); s != ending_.settling.end()) {
    // Ended, its final row not yet durable: the purge is queued behind that save in the store's
    // single writer, so the row is written and then removed, in that order.
    job = s->second;
  } else {
    auto stored = co_await store_->get(id);
    if (!stored) co_return stored.error();
    job = std::move(*stored);
  }
  if (!job) co_return PurgeResult{.outcome = PurgeOutcome::not_found, .job = std::nullopt};
  if (!caller.may_act_on(*job)) {
    spdlog::warn("job {}: removal by {} refused: it belongs to {}", id, caller.name,
                 job->spec.owner);
    co_return PurgeResult{.outcome = PurgeOutcome::forbidden, .job = view(*job)};
  }
  if (!ended(id) || !core::is_terminal(job->state)) {
    co_return PurgeResult{.outcome = PurgeOutcome::active, .job = std::nullopt};
  }
  core::Result<void> done = co_await async_purge(*store_, id, asio::use_awaitable);
  if (!done) co_return done.error();
  std::string dir = files_.dir(id);
  files_.worker().async_run([dir] { return util::remove_tree(dir); },
                            [id, dir](std::error_code ec) {
                              if (ec)
                                spdlog::error("job {}: its directory {} was not removed: {}", id,
                                              dir, ec.message());
                            });
  spdlog::info("job {}: removed by {}", id, caller.name.empty() ? "a client" : caller.name);
  co_return PurgeResult{.outcome = PurgeOutcome::purged, .job = std::nullopt};
}

}  // namespace vramq::service
