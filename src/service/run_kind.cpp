#include "service/run_kind.hpp"

#include <algorithm>

namespace vramq::service {

std::optional<std::int64_t> Run::highest_mb() const {
  std::optional<std::int64_t> most;
  for (const auto& [g, mb] : measured_mb)
    most = std::max(most.value_or(mb), mb);
  return most;
}

void Run::arm_timeout(boost::asio::io_context& ioc, std::int64_t started_at_ms,
                      std::int64_t timeout_s, std::function<void()> expired) {
  if (timeout_s <= 0) return;
  std::int64_t left_ms = started_at_ms + timeout_s * 1000 - now_ms();
  timeout = std::make_unique<ServiceTimer>(
      ioc, std::chrono::milliseconds(std::max<std::int64_t>(left_ms, 0)));
  timeout->async_wait([expired = std::move(expired)](const boost::system::error_code& e) {
    if (!e) expired();
  });
}

void Run::set_progress(const core::Job& job, core::Progress p) {
  // Without an estimate of its own, the time left if it goes on at the pace it has kept so far.
  if (!p.eta_s && p.fraction && *p.fraction > 0) {
    double ran_s =
        static_cast<double>(std::max<std::int64_t>(0, now_ms() - job.started_at_ms)) / 1000.0;
    p.eta_s = ran_s * (1 - *p.fraction) / *p.fraction;
  }
  if (p.eta_s) p.eta_s = std::min(*p.eta_s, core::kProgressMaxEtaS);
  if (progress == p) return;
  progress = std::move(p);
  progress_at_ms = now_ms();
  progress_unpublished = true;
}

void Run::account_measured(std::int64_t now_ms, const std::map<int, std::int64_t>& now_mb) {
  if (measured_at_ms > 0 && now_ms > measured_at_ms) {
    std::int64_t sum = 0;
    for (const auto& [gpu, mb] : measured_mb)
      sum += mb;
    measured_mib_s +=
        static_cast<double>(sum) * static_cast<double>(now_ms - measured_at_ms) / 1000.0;
  }
  measured_at_ms = now_ms;
  measured_mb = now_mb;
}

}  // namespace vramq::service
