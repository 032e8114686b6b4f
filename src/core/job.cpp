#include "core/job.hpp"

#include <array>

namespace vramq::core {
namespace {

constexpr std::array<std::string_view, 6> kStateNames = {"queued", "running",   "succeeded",
                                                         "failed", "cancelled", "timed_out"};
constexpr std::array<std::string_view, 15> kEndReasonNames = {
    "",          "nonzero_exit",   "signal",       "spawn_failed",  "gpu_oom",
    "timeout",   "cancelled",      "interrupted",  "vram_exceeded", "dependency_failed",
    "log_limit", "worker_crashed", "worker_error", "worker_failed", "preempted"};
constexpr std::array<std::string_view, 15> kPendingNames = {"",
                                                            "priority",
                                                            "vram",
                                                            "head_of_line",
                                                            "draining",
                                                            "gpu_unknown",
                                                            "dependency",
                                                            "retry_delay",
                                                            "start_failed",
                                                            "worker_busy",
                                                            "worker_unloading",
                                                            "worker_backoff",
                                                            "cluster",
                                                            "quota",
                                                            "reclaiming"};

constexpr int kStates = static_cast<int>(kStateNames.size());

// kTransitions[from][to]: the whole lifecycle in one place.
constexpr std::array<std::array<bool, kStates>, kStates> kTransitions = {{
    //   queued running succeeded failed cancelled timed_out
    {false, true, false, true, true, false},     // queued
    {true, false, true, true, true, true},       // running
    {false, false, false, false, false, false},  // succeeded
    {false, false, false, false, false, false},  // failed
    {false, false, false, false, false, false},  // cancelled
    {false, false, false, false, false, false},  // timed_out
}};

template <class Enum, std::size_t N>
std::optional<Enum> parse_name(const std::array<std::string_view, N>& names, std::string_view s) {
  for (std::size_t i = 0; i < N; ++i) {
    if (!names[i].empty() && names[i] == s) return static_cast<Enum>(i);
  }
  return std::nullopt;
}

}  // namespace

std::string_view to_string(JobState s) {
  return kStateNames.at(static_cast<std::size_t>(s));
}
std::string_view to_string(EndReason r) {
  return kEndReasonNames.at(static_cast<std::size_t>(r));
}
std::string_view to_string(PendingReason r) {
  return kPendingNames.at(static_cast<std::size_t>(r));
}

std::optional<JobState> parse_job_state(std::string_view s) {
  return parse_name<JobState>(kStateNames, s);
}
std::optional<EndReason> parse_end_reason(std::string_view s) {
  if (s.empty()) return EndReason::none;
  return parse_name<EndReason>(kEndReasonNames, s);
}

bool is_terminal(JobState s) {
  return s != JobState::queued && s != JobState::running;
}

bool can_transition(JobState from, JobState to) {
  return kTransitions.at(static_cast<std::size_t>(from)).at(static_cast<std::size_t>(to));
}

std::vector<std::pair<std::string, std::string>> without_values(
    std::span<const std::pair<std::string, std::string>> env) {
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(env.size());
  for (const auto& [name, value] : env)
    out.emplace_back(name, std::string());
  return out;
}

}  // namespace vramq::core
