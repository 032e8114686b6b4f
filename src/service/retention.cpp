#include "service/retention.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <filesystem>

#include "util/confined_files.hpp"

namespace vramq::service {
namespace {
constexpr int kBatch = 500;
// Between the batches of one sweep: room for the writer's other transactions.
constexpr std::chrono::milliseconds kBetweenBatches{50};
}  // namespace

void Retention::stop() {
  stopped_ = true;
  timer_.cancel();
}

void Retention::arm(std::chrono::milliseconds after) {
  if (stopped_ || (config_.retain_ended_s == 0 && config_.retain_ended_count == 0)) return;
  timer_.expires_after(after);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec && !stopped_) step();
  });
}

void Retention::end_sweep(std::chrono::milliseconds interval) {
  if (pruned_in_sweep_ > 0) {
    spdlog::info("retention: removed {} ended jobs (ended over {} s ago, or beyond the newest {})",
                 pruned_in_sweep_, config_.retain_ended_s, config_.retain_ended_count);
  }
  pruned_in_sweep_ = 0;
  arm(interval);
}

void Retention::step() {
  store::Store::Prune what{
      .ended_before_ms = config_.retain_ended_s > 0 ? now_ms() - config_.retain_ended_s * 1000 : 0,
      .keep = config_.retain_ended_count,
      .limit = kBatch};
  std::chrono::milliseconds interval = std::chrono::seconds(config_.retention_interval_s);
  store_.prune_ended(what, [this, interval](core::Result<std::vector<core::JobId>> pruned) {
    if (!pruned) {
      spdlog::warn("retention: {}", pruned.error().message);
      arm(interval);
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
      dirs.push_back(files_.dir(id));
    bool more = static_cast<int>(pruned->size()) == kBatch;
    files_.worker().async_run(
        [dirs = std::move(dirs)] {
          std::size_t failed = 0;
          for (const std::string& dir : dirs) {
            if (util::remove_tree(dir)) ++failed;
          }
          return failed;
        },
        [this, more, interval](std::size_t failed) {
          if (failed > 0) spdlog::warn("retention: {} job directories were not removed", failed);
          if (more) {
            arm(kBetweenBatches);
          } else {
            end_sweep(interval);  // its last batch was not a full one: nothing is left
          }
        });
  });
}

}  // namespace vramq::service
