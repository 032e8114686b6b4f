// Retention: ended jobs are removed --retain-ended after they ended (default 7 days) and beyond
// the newest --retain-ended-count (default 100,000), so that the data directory stays bounded
// under an endless stream of jobs. A sweep runs every --retention-interval-s: the store removes
// at most kBatch rows (and their Idempotency-Keys) per transaction on its writer thread, then the
// file worker removes their directories; the next batch follows a moment later, so that neither
// the loop nor submissions ever wait behind a long removal. Learned footprints are kept: they
// live in their own table, by task and bucket, not by job.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <filesystem>

#include "service/orchestrator.hpp"

namespace vramq::service {
namespace {
constexpr int kBatch = 500;
// Between the batches of one sweep: room for the writer's other transactions.
constexpr std::chrono::milliseconds kBetweenBatches{50};
}  // namespace

void Orchestrator::arm_retention(std::chrono::milliseconds after) {
  if (draining_ || (config_.retain_ended_s == 0 && config_.retain_ended_count == 0)) return;
  retention_timer_.expires_after(after);
  retention_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec && !draining_) retention_step();
  });
}

void Orchestrator::end_sweep(std::chrono::milliseconds interval) {
  if (pruned_in_sweep_ > 0) {
    spdlog::info("retention: removed {} ended jobs (ended over {} s ago, or beyond the newest {})",
                 pruned_in_sweep_, config_.retain_ended_s, config_.retain_ended_count);
  }
  pruned_in_sweep_ = 0;
  arm_retention(interval);
}

void Orchestrator::retention_step() {
  store::Store::Prune what{
      .ended_before_ms = config_.retain_ended_s > 0 ? now_ms() - config_.retain_ended_s * 1000 : 0,
      .keep = config_.retain_ended_count,
      .limit = kBatch};
  std::chrono::milliseconds interval = std::chrono::seconds(config_.retention_interval_s);
  store_->prune_ended(what, [this, interval](core::Result<std::vector<core::JobId>> pruned) {
    if (!pruned) {
      spdlog::warn("retention: {}", pruned.error().message);
      arm_retention(interval);
      return;
    }
    if (pruned->empty()) {
      end_sweep(interval);
      return;
    }
    pruned_in_sweep_ += static_cast<std::int64_t>(pruned->size());
    std::vector<std::string> dirs;
    dirs.reserve(pruned->size());
    for (core::JobId id : *pruned)
      dirs.push_back(job_dir(id));
    bool more = static_cast<int>(pruned->size()) == kBatch;
    files_.worker().async_run(
        [dirs = std::move(dirs)] {
          std::size_t failed = 0;
          for (const std::string& dir : dirs) {
            std::error_code ec;
            std::filesystem::remove_all(dir, ec);
            if (ec) ++failed;
          }
          return failed;
        },
        [this, more, interval](std::size_t failed) {
          if (failed > 0) spdlog::warn("retention: {} job directories were not removed", failed);
          if (more) {
            arm_retention(kBetweenBatches);
          } else {
            end_sweep(interval);  // its last batch was not a full one: nothing is left
          }
        });
  });
}

}  // namespace vramq::service
