#pragma once
// The explicit progress channel (issue 13): a job that wants to say how far it is appends one
// JSON object per line to the file named by VRAMQ_PROGRESS_FILE, e.g.
//   {"fraction": 0.4, "message": "marching cubes"}
// with any of "fraction" (0..1), "current" and "total" (>= 0; fraction = current / total when no
// fraction is given), "unit", "eta_s" (>= 0) and "message". Other fields are ignored. Pure
// parsing: a line that does not parse, or says nothing, is skipped, never an error.

#include <optional>
#include <string_view>

#include "core/progress.hpp"

namespace vramq::exec {

// The newest line of `tail` (the end of the file) that is a report.
std::optional<core::Progress> parse_progress_report(std::string_view tail);

}  // namespace vramq::exec
