#pragma once
// How long runs take, learned from the runs that ended: a moving average of every run's time
// (Retry-After) and, of whole successful runs only, per task and per task with the same
// parameters (predictions). Bounded: at most kMaxKeys keys; a flood of distinct parameters starts
// the averages afresh rather than grow them. Pure.

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "core/job.hpp"

namespace vramq::core {

class RunTimes {
 public:
  static constexpr std::size_t kMaxKeys = 10'000;
  // A run of `spec` took `ran_s`.
  void add(const JobSpec& spec, double ran_s, bool succeeded);
  // Its expected run time: the average of earlier runs with its parameters, else of its task,
  // else of all, within its timeout.
  std::int64_t expected_ms(const JobSpec& spec) const;
  // When a full queue may take one more: about one mean run time divided by the runs going on
  // in parallel, 1 s to an hour.
  std::int64_t retry_after_s(std::size_t running) const;
  std::size_t keys() const { return by_key_.size(); }

 private:
  double mean_s_ = 10;                                 // before any run: a guess
  std::map<std::string, double, std::less<>> by_key_;  // "TASK" and "TASK\nPARAMS"
};

}  // namespace vramq::core
