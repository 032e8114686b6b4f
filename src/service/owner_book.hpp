#pragma once
// The owners the server knows (issue 24): the owners file, or the token file mapped onto it, as
// last (re)loaded; the small numbers that queued jobs carry for their owners
// (core::QueuedJob::owner: the queue counts by them without a string per job); and what an
// owner's limits allow a submission. Loop only.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/job.hpp"
#include "core/owners.hpp"
#include "service/job_request.hpp"

namespace vramq::service {

class OwnerBook {
 public:
  // The owners in force. Null: the server has no tokens (everyone anonymous and unlimited).
  void set(std::shared_ptr<const core::Owners> owners) { owners_ = std::move(owners); }
  const std::shared_ptr<const core::Owners>& owners() const { return owners_; }

  // An owner's number, given the first time its name is seen and never reused while the server
  // runs (an owner dropped from the file keeps it: its jobs still carry it). "" is 0.
  std::uint32_t id(const std::string& name);
  // The number of a name already seen, else nullopt (nothing of it can be counted yet).
  std::optional<std::uint32_t> find_id(const std::string& name) const;

  // Counts of an owner's jobs that admission asks for: how many wait (queued, parked, or being
  // stored), by owner number.
  using Count = std::function<std::int64_t(std::uint32_t)>;
  // Why `spec`'s owner may not submit it now, or nullopt. `priority` above the owner's or its
  // group's max_priority: forbidden. Its owner's (or group's) waiting jobs at max_queued:
  // queue_full, unless `starts_now()` (a job that starts at once never waits, as with
  // --queue-max).
  std::optional<SubmitError> refuses(const core::JobSpec& spec, const Count& waiting,
                                     const std::function<bool()>& starts_now) const;

 private:
  std::shared_ptr<const core::Owners> owners_;
  std::map<std::string, std::uint32_t, std::less<>> ids_{{"", 0}};
};

}  // namespace vramq::service
