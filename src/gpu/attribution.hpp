#pragma once
// Which GPU memory is whose. A process on a GPU belongs to a vramq job when it is in the job's
// process group or descends from the job's leader (a child that left the group still counts);
// everything else is foreign, and so is used memory that no process accounts for (driver
// contexts, other containers): foreign = used - what vramq's jobs use. Pure: the process table
// is read through `ProcessLookup`, so tests give it a made-up one.

#include <functional>
#include <optional>
#include <span>

#include "gpu/gpu_source.hpp"
#include "gpu/nvml_library.hpp"
#include "util/proc_stat.hpp"

namespace vramq::gpu {

using ProcessLookup = std::function<std::optional<util::ProcStat>(std::int64_t pid)>;

// The job `pid` belongs to, if any: its group is a job's, or an ancestor (up to 64 levels) is a
// job's leader (the job's pgid is its leader's pid).
std::optional<core::JobId> owner_of(std::int64_t pid, std::span<const JobProbe> jobs,
                                    const ProcessLookup& lookup);

// The sample for the loop: devices with foreign use and processes, and each job's measured use
// (the sum over its processes on every device). A job process whose use NVML cannot report
// counts as the job's reservation on that device, so that foreign use is not inflated by it; on a
// device that lists no processes at all, every vramq job on it counts as its reservation.
GpuSample attribute(std::span<const NvmlDevice> devices, std::span<const JobProbe> jobs,
                    const ProcessLookup& lookup);

}  // namespace vramq::gpu
