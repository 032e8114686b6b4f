#pragma once
// The steps of a server's start before its event loop runs, each a function that gives what it
// made or says why the start must stop (`vramq serve` then logs it and exits 2). serve() calls
// them in order: data directory (locked first: a second server must not touch it), catalog,
// GPUs (app/gpu_setup), tokens.

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "app/host_lock.hpp"
#include "core/config.hpp"
#include "core/task_catalog.hpp"
#include "server/auth.hpp"

namespace vramq::app {

// The directory of the running binary (vramq-supervise and the demo model live beside it).
std::string bin_dir();

// Raises the soft open-file limit to the hard one (at most core::kNofileTarget) and answers the
// limit now in force: systemd's and most shells' soft limit, 1024, is what idle clients exhaust.
std::uint64_t raise_nofile();

// Creates the data directory and its jobs/ (with the umask in force), warns if it is open to
// others, takes its lock, and makes an older vramq's store files private (`private_bits`).
core::Result<HostLock> prepare_data_dir(const core::Config& config, mode_t private_bits);

// The task catalog (the embedded demo one without --tasks); warns about tasks whose program is
// not an executable file (every run of them would fail to start).
core::Result<core::TaskCatalog> load_catalog(const core::Config& config);

// The owners of --owners, or --token-file's tokens as owners; null without either (no tokens:
// everyone anonymous). Warns when others may read the file. Blocking (a file read): at the start,
// or off the loop for a reload.
core::Result<std::shared_ptr<const core::Owners>> load_owners(const core::Config& config);

// This data directory's prefix of Slurm job names: a server finds its own runs again by it.
std::string slurm_job_prefix(const std::string& data_dir);

}  // namespace vramq::app
