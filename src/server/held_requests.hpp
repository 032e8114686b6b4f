#pragma once
// Requests that hold their connection open while they wait: log followers (?follow=1) and job
// waiters (?wait=, /run-script). Each holds a socket, a coroutine and a timer for as long as a job
// runs, so they are capped per job and per owner (the token's holder; "" without tokens). Pure
// bookkeeping; a Ticket gives its place back when the request ends. Loop only.

#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "core/job.hpp"

namespace vramq::server {

class HeldRequests : public std::enable_shared_from_this<HeldRequests> {
 public:
  struct Limits {
    std::size_t per_job = 64;
    std::size_t per_owner = 256;
  };
  explicit HeldRequests(Limits limits) : limits_(limits) {}

  // Gives its place back when destroyed.
  class Ticket {
   public:
    Ticket(std::shared_ptr<HeldRequests> table, core::JobId job, std::string owner)
        : table_(std::move(table)), job_(job), owner_(std::move(owner)) {}
    Ticket(const Ticket&) = delete;
    Ticket& operator=(const Ticket&) = delete;
    ~Ticket();

   private:
    std::shared_ptr<HeldRequests> table_;
    core::JobId job_;
    std::string owner_;
  };

  enum class Refusal { job_full, owner_full };
  struct Taken {
    std::unique_ptr<Ticket> ticket;  // set when there was room
    std::optional<Refusal> refusal;  // else which cap was hit
  };
  // `job` 0: a request whose job does not exist yet (/run-script): counted for its owner only.
  Taken take(core::JobId job, const std::string& owner);

  std::size_t of_job(core::JobId job) const;
  std::size_t of_owner(const std::string& owner) const;
  const Limits& limits() const { return limits_; }

 private:
  void give_back(core::JobId job, const std::string& owner);
  Limits limits_;
  std::map<core::JobId, std::size_t> per_job_;
  std::map<std::string, std::size_t> per_owner_;
};

}  // namespace vramq::server
