#pragma once
// Who jobs run as (issue 24, item 6), at start-up and on SIGHUP: --run-as and the owners' run_as
// resolved through NSS and checked against who vramq is. Blocking (NSS, stat): at the start, or
// off the loop for a reload.

#include <memory>

#include "core/config.hpp"
#include "core/error.hpp"
#include "core/owners.hpp"
#include "service/job_users.hpp"

namespace vramq::app {

// The users jobs run as. Refused, with the name and the reason: a user that does not exist,
// root (its jobs would have the server's powers), any user but vramq's own while vramq does not
// run as root (it cannot change user), and any under --executor slurm (jobs are submitted as
// vramq's user). vramq's own user, named, is no change (jobs of it run as vramq does).
core::Result<std::shared_ptr<const service::JobUsers>> resolve_job_users(
    const core::Config& config, const core::Owners* owners);

// Jobs that run as other users must reach their directories: the data directory and its jobs/
// and workers/ get search for others (0711: nothing can be listed, and what is in them stays
// private), and each directory above must let every such user through (an Error names the one
// that does not). Nothing to do without such users.
core::Result<void> open_job_dirs(const core::Config& config, const service::JobUsers& users);

// The start-up's word on who jobs run as: a loud warning when jobs would run as root.
void log_job_users(const service::JobUsers& users, const core::Owners* owners);

}  // namespace vramq::app
