#pragma once
// Retention: ended jobs are removed --retain-ended after they ended (default 7 days) and beyond
// the newest --retain-ended-count (default 100,000), so that the data directory stays bounded
// under an endless stream of jobs. A sweep runs every --retention-interval-s: the store removes
// at most kBatch rows (and their Idempotency-Keys) per transaction on its writer thread, then the
// file thread removes their directories; the next batch follows a moment later, so that neither
// the loop nor submissions ever wait behind a long removal. Learned footprints are kept: they
// live in their own table, by task and bucket, not by job. Loop only.

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>

#include "core/config.hpp"
#include "service/job_files.hpp"
#include "service/service_clock.hpp"
#include "store/store.hpp"

namespace vramq::service {

class Retention {
 public:
  Retention(boost::asio::io_context& ioc, const core::Config& config, store::Store& store,
            JobFiles& files)
      : config_(config), store_(store), files_(files), timer_(ioc) {}
  void start(std::chrono::milliseconds after) { arm(after); }
  void stop();  // the drain: no more sweeps

 private:
  void arm(std::chrono::milliseconds after);
  void step();
  void end_sweep(std::chrono::milliseconds interval);  // logs it, arms the next

  const core::Config& config_;
  store::Store& store_;
  JobFiles& files_;
  ServiceTimer timer_;
  bool stopped_ = false;
  std::int64_t pruned_in_sweep_ = 0;  // ended jobs removed by the current sweep
};

}  // namespace vramq::service
