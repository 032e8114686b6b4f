#pragma once
// The GPU readings: the GPU source is called on its own thread only, one reading at a time (a
// request while one is under way makes one more after it, with the runs as they are then). The
// newest reading is kept; a reading with another device count is ignored (the GPU list stays
// stable); a GPU that cannot be read keeps its identity from the last reading, unknown, and its
// loss and return are logged once. Memory last seen in use by processes that have gone stays
// counted (departed_mb) until a reading begun after they went shows where it went: a real driver
// frees a dead process's memory only a moment later, and a job started into it at once could
// run out of it. Loop only, but for the source's thread.

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "gpu/gpu_source.hpp"
#include "service/service_clock.hpp"
#include "util/worker.hpp"

namespace vramq::service {

class GpuReadings {
 public:
  // `probes`: what the next reading measures (the runs and idle workers now). `read`: called on
  // the loop after each reading, good or not.
  GpuReadings(boost::asio::io_context& ioc, std::unique_ptr<gpu::GpuSource> source,
              std::function<std::vector<gpu::JobProbe>()> probes, std::function<void()> read);
  ~GpuReadings() { thread_.join(); }

  // Start-up only (blocking): the first reading, with no runs to measure.
  core::Result<void> first();
  void request();
  // A reading every `every` (each also calls `tick`), until stop_polling().
  void poll(std::chrono::milliseconds every, std::function<void()> tick);
  void stop_polling() { poll_timer_.cancel(); }
  bool busy() const { return thread_.busy(); }

  const gpu::GpuSample& sample() const { return sample_; }
  const std::vector<gpu::GpuInfo>& gpus() const { return sample_.gpus; }
  bool simulated() const { return kind_ == "sim"; }
  std::string_view kind() const { return kind_; }
  // Non-empty: the last reading failed, and the GPUs are unknown.
  const std::string& error() const { return error_; }
  // The most any one GPU could give a job, `buffer_mb` kept free (0 at least).
  std::int64_t largest_mb(std::int64_t buffer_mb) const;
  // Whether GPU `g` can be admitted to: the last reading read it.
  bool known(std::size_t g) const { return error_.empty() && sample_.gpus.at(g).error.empty(); }

  // Processes that were last seen using `mb` (per GPU) have gone.
  void departed(const std::map<int, std::int64_t>& mb);
  const std::map<int, std::int64_t>& departed_mb() const { return departed_mb_; }

 private:
  void on_reading(core::Result<gpu::GpuSample> s, std::uint64_t seq);
  void keep_identity(gpu::GpuSample& next) const;  // of GPUs `next` could not read

  std::unique_ptr<gpu::GpuSource> source_;
  std::string kind_;
  std::function<std::vector<gpu::JobProbe>()> probes_;
  std::function<void()> read_;
  gpu::GpuSample sample_;
  std::string error_;
  bool reading_ = false;
  bool again_ = false;
  std::uint64_t started_ = 0;  // readings begun (numbered as they begin)
  std::map<int, std::int64_t> departed_mb_;
  std::uint64_t departed_until_ = 0;  // the first reading that shows where departed_mb_ went
  ServiceTimer poll_timer_;
  util::Worker thread_;  // the only thread that calls source_
};

}  // namespace vramq::service
