#include "service/gpu_readings.hpp"

#include <spdlog/spdlog.h>

namespace vramq::service {

GpuReadings::GpuReadings(boost::asio::io_context& ioc, std::unique_ptr<gpu::GpuSource> source,
                         std::function<std::vector<gpu::JobProbe>()> probes,
                         std::function<void()> read)
    : source_(std::move(source)),
      kind_(source_->kind()),
      probes_(std::move(probes)),
      read_(std::move(read)),
      poll_timer_(ioc),
      thread_(ioc.get_executor()) {}

void GpuReadings::poll(std::chrono::milliseconds every, std::function<void()> tick) {
  poll_timer_.expires_after(every);
  poll_timer_.async_wait(
      [this, every, tick = std::move(tick)](const boost::system::error_code& ec) mutable {
        if (ec) return;
        request();
        tick();
        poll(every, std::move(tick));
      });
}

core::Result<void> GpuReadings::first() {
  auto first = source_->sample({});
  if (!first) return core::Error{"GPU source: " + first.error().message};
  if (first->gpus.empty()) return core::Error{"the GPU source reports no GPUs"};
  sample_ = std::move(*first);
  return {};
}

void GpuReadings::request() {
  if (reading_) {
    again_ = true;
    return;
  }
  reading_ = true;
  std::uint64_t seq = ++started_;
  thread_.async_run([source = source_.get(), probes = probes_()] { return source->sample(probes); },
                    [this, seq](core::Result<gpu::GpuSample> s) { on_reading(std::move(s), seq); });
}

std::int64_t GpuReadings::largest_mb(std::int64_t buffer_mb) const {
  std::int64_t most = 0;
  for (const gpu::GpuInfo& g : sample_.gpus)
    most = std::max(most, g.total_mb - buffer_mb);
  return most;
}

void GpuReadings::departed(const std::map<int, std::int64_t>& mb) {
  for (const auto& [g, used] : mb)
    departed_mb_[g] += used;
  if (!mb.empty()) departed_until_ = started_ + 1;
}

void GpuReadings::keep_identity(gpu::GpuSample& next) const {
  for (std::size_t g = 0; g < next.gpus.size(); ++g) {
    gpu::GpuInfo& now = next.gpus[g];
    const gpu::GpuInfo& before = sample_.gpus[g];
    if (!now.error.empty()) {
      // A lost GPU answers nothing, not even its UUID: it stays the GPU it was, unknown.
      now.uuid = before.uuid;
      now.name = before.name;
      now.total_mb = before.total_mb;
      if (before.error.empty()) {
        spdlog::error(
            "GPU {} ({}) cannot be read: {}; nothing is admitted to it until it answers again", g,
            before.uuid, now.error);
      }
    } else if (!before.error.empty()) {
      spdlog::info("GPU {} ({}) answers again", g, now.uuid);
    }
  }
}

void GpuReadings::on_reading(core::Result<gpu::GpuSample> s, std::uint64_t seq) {
  reading_ = false;
  // A reading begun after the last exits shows their memory as it is now (freed, or foreign).
  if (s && seq >= departed_until_) departed_mb_.clear();
  if (!s) {
    if (error_.empty()) spdlog::error("GPU reading failed: {}", s.error().message);
    error_ = s.error().message;
  } else {
    if (!error_.empty()) spdlog::info("GPU readings are back");
    error_.clear();
    // Keep the GPU list stable: a reading with another device count is ignored.
    if (s->gpus.size() == sample_.gpus.size()) {
      keep_identity(*s);
      sample_ = std::move(*s);
    }
  }
  read_();
  if (again_) {
    again_ = false;
    request();
  }
}

}  // namespace vramq::service
