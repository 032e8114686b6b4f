#pragma once
// Fair share by use (issue 24): within a priority, the queue serves first the owner whose
// decayed use, over its weight, is lowest (Slurm's PriorityDecayHalfLife; FIFO within an owner).
// Use is VRAM reserved over time, in MiB-seconds (reservation x GPUs x seconds), each second's
// worth halved every half-life: a run of m MiB from s to e counts, at time t,
//   m * h/ln2 * (2^(-(t-e)/h) - 2^(-(t-s)/h))   (h the half-life in seconds),
// and a running one the same with e = t. Ended runs are added once (at their end, or from the
// usage ledger at start-up); running ones are counted afresh at each pass from their starts, so
// nothing is lost between passes and a restart loses no running job's use.
// Pure; no I/O. The orchestrator feeds it (service::FairShareBook) and the queue reads shares.

#include <cstdint>
#include <span>
#include <vector>

namespace vramq::core {

class FairShare {
 public:
  // half_life_ms <= 0: fair share is off (shares are all 0; the queue is FIFO by priority).
  explicit FairShare(std::int64_t half_life_ms = 0);
  bool enabled() const { return half_life_ms_ > 0; }

  // An ended run of `mb` (reservation x GPUs) from start_ms to end_ms.
  void add_run(std::uint32_t owner, std::int64_t mb, std::int64_t start_ms, std::int64_t end_ms);
  // Use already summed (MiB-seconds), as of at_ms (a usage ledger row at start-up).
  void add_use(std::uint32_t owner, double mib_s, std::int64_t at_ms);

  // An owner's decayed use of ended runs, at now_ms.
  double ended_use(std::uint32_t owner, std::int64_t now_ms) const;
  // A running run's decayed use so far, at now_ms.
  double running_use(std::int64_t mb, std::int64_t start_ms, std::int64_t now_ms) const;

  struct Running {
    std::uint32_t owner = 0;
    std::int64_t mb = 0;  // reservation x GPUs
    std::int64_t start_ms = 0;
  };
  // Each owner's decayed use at now_ms, ended and running together (by owner number; as long as
  // the longest owner number seen).
  std::vector<double> uses(std::int64_t now_ms, std::span<const Running> running) const;
  // Shares to order the queue by: use / weight (weights by owner number; missing: 1).
  static std::vector<double> shares(std::vector<double> uses, std::span<const double> weights);

 private:
  std::int64_t half_life_ms_ = 0;
  // use(owner, t) = base_[owner] * 2^(-(t - ref_ms_) / h): one reference time for all owners,
  // moved forward (and every base scaled) when a new contribution would overflow it.
  std::vector<double> base_;
  std::int64_t ref_ms_ = 0;
  bool has_ref_ = false;
  double decay(std::int64_t from_ms, std::int64_t to_ms) const;  // 2^(-(to - from) / h)
  void add_at(std::uint32_t owner, double use, std::int64_t at_ms);
};

}  // namespace vramq::core
