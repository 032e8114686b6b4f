// Randomized property test of plan(): a simulated world of GPUs, foreign memory and jobs whose
// measured use wanders around their reservation, driven by >= 100k random events. After every
// event the plan is applied, and we check:
//   1. no start over-commits its GPU: committed + foreign + buffer <= total right after it;
//   2. no job that has waited past the backfill bound is passed on the GPU it holds;
//   3. liveness: once arrivals stop, every job finishes.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>

#include "core/scheduler.hpp"

namespace vramq::core {
namespace {

struct Running {
  int gpu;
  std::int64_t reservation;
  std::int64_t measured;
  std::int64_t ends_at;
};

class World {
 public:
  explicit World(std::uint32_t seed) : rng_(seed) {
    int n = pick(1, 4);
    for (int i = 0; i < n; ++i) {
      gpus_.push_back({.index = i, .total_mb = 1024 * pick(8, 80)});
    }
  }

  void step(bool arrivals) {
    switch (pick(0, arrivals ? 5 : 3)) {
      case 0:
        now_ += pick(1, 20'000);
        break;
      case 1:
        finish_due();
        break;
      case 2:  // a reading: measured use moves, foreign memory comes and goes
        for (auto& [id, r] : running_)
          r.measured = pick64(0, r.reservation * 11 / 10);
        if (pick(0, 9) == 0)
          foreign_[pick(0, static_cast<int>(gpus_.size()) - 1)] = pick64(0, 4096);
        break;
      case 3:
        if (pick(0, 3) == 0) foreign_.clear();
        now_ += pick(1, 5'000);
        finish_due();
        break;
      default:
        submit();
        break;
    }
    apply(plan(snapshot()));
  }

  bool idle() const { return queue_.empty() && running_.empty(); }
  std::int64_t now() const { return now_; }
  void advance(std::int64_t ms) { now_ += ms; }
  std::int64_t starts() const { return starts_; }

 private:
  int pick(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  std::int64_t pick64(std::int64_t lo, std::int64_t hi) {
    return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng_);
  }

  void submit() {
    if (queue_.size() > 40) return;
    // Only jobs some GPU could ever hold are queued (the rest get a 422 at submit).
    std::int64_t vram = pick64(0, 24 * 1024);
    std::vector<GpuView> views = current_views();
    if (!fits_ever(vram, views, config_.buffer_mb)) return;
    queue_.push_back({.id = next_id_++,
                      .priority = pick(0, 9) == 0 ? 1 : 0,
                      .vram_mb = vram,
                      .queued_at_ms = now_});
  }

  void finish_due() {
    std::erase_if(running_, [&](const auto& kv) { return kv.second.ends_at <= now_; });
  }

  std::vector<GpuView> current_views() const {
    std::vector<GpuView> views = gpus_;
    for (auto& v : views) {
      auto f = foreign_.find(v.index);
      v.foreign_mb = f == foreign_.end() ? 0 : f->second;
    }
    for (const auto& [id, r] : running_) {
      views[r.gpu].committed_mb += std::max(r.reservation, r.measured);
    }
    return views;
  }

  Snapshot snapshot() {
    std::ranges::sort(queue_, queue_before);
    views_ = current_views();
    return {.queue = queue_, .gpus = views_, .now_ms = now_, .config = config_};
  }

  void apply(const Decisions& d) {
    std::map<JobId, const QueuedJob*> by_id;
    for (const QueuedJob& q : queue_)
      by_id[q.id] = &q;
    std::vector<GpuView> views = views_;
    for (const StartDecision& s : d.starts) {
      const QueuedJob& q = *by_id.at(s.job);
      // Property 2: nothing ahead of q that waited past the bound holds this GPU.
      for (const PendingDecision& p : d.pending) {
        const QueuedJob& ahead = *by_id.at(p.job);
        if (queue_before(ahead, q) && std::ranges::find(p.held_gpus, s.gpu) != p.held_gpus.end()) {
          ADD_FAILURE() << "job " << q.id << " passed starving job " << ahead.id << " on GPU "
                        << s.gpu;
        }
      }
      // Property 1: admission never over-commits.
      GpuView& g = views[s.gpu];
      g.committed_mb += q.vram_mb;
      EXPECT_LE(g.committed_mb + g.foreign_mb + config_.buffer_mb, g.total_mb)
          << "GPU " << s.gpu << " over-committed by job " << q.id;
      running_[q.id] = {.gpu = s.gpu,
                        .reservation = q.vram_mb,
                        .measured = 0,
                        .ends_at = now_ + pick(1'000, 400'000)};
      ++starts_;
    }
    std::map<JobId, std::vector<int>> holds;
    for (const PendingDecision& p : d.pending)
      holds[p.job] = p.held_gpus;
    std::erase_if(queue_, [&](QueuedJob& q) {
      auto h = holds.find(q.id);
      if (h == holds.end()) return true;  // started
      q.held_gpus = h->second;
      return false;
    });
  }

  std::mt19937 rng_;
  SchedulerConfig config_{.buffer_mb = 1024, .backfill_bound_ms = 300'000};
  std::vector<GpuView> gpus_;
  std::vector<GpuView> views_;
  std::map<int, std::int64_t> foreign_;
  std::vector<QueuedJob> queue_;
  std::map<JobId, Running> running_;
  std::int64_t now_ = 0;
  JobId next_id_ = 1;
  std::int64_t starts_ = 0;
};

TEST(SchedulerProperty, NeverOverCommitsNeverPassesAStarvingJobAlwaysDrains) {
  constexpr int kWorlds = 50;
  constexpr int kEventsPerWorld = 2'100;  // 105k events in all
  std::int64_t total_starts = 0;
  for (std::uint32_t seed = 1; seed <= kWorlds; ++seed) {
    World w(seed);
    for (int i = 0; i < kEventsPerWorld; ++i)
      w.step(true);
    // Arrivals stop: everything queued must finish within a bounded simulated time.
    for (int i = 0; i < 100'000 && !w.idle(); ++i) {
      w.advance(10'000);
      w.step(false);
    }
    EXPECT_TRUE(w.idle()) << "world " << seed << " did not drain";
    total_starts += w.starts();
    if (HasFailure()) break;
  }
  EXPECT_GT(total_starts, kWorlds * 100);  // the worlds really ran jobs
}

}  // namespace
}  // namespace vramq::core
