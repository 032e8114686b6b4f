#pragma once
// A running job's progress (issue 13), read without changing the model's script: from the
// progress bars tqdm draws on stderr, or from the explicit reports a script writes, one JSON
// line each, to the file named by VRAMQ_PROGRESS_FILE (service/job_environment). Pure parsing:
// anything that does not parse is no progress, never an error.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vramq::core {

struct Progress {
  std::optional<double> fraction;  // 0..1
  std::optional<double> current;   // units done (tqdm's n)
  std::optional<double> total;     // units in all
  std::string unit;                // "it", "B", "img", ... ("" when not said)
  std::optional<double> rate;      // units per second
  std::optional<double> eta_s;     // seconds left, as the job estimates them
  std::string message;             // tqdm's description, or the report's message
  bool operator==(const Progress&) const = default;
};

// The newest tqdm bar in the end of a stderr log (updates are separated by '\r', the last one
// ends with '\n'), e.g. "Meshing:  45%|####5     | 45/100 [00:02<00:03, 15.20it/s]" or, without
// a total, "120it [00:04, 29.87it/s]". Lines that are not a bar are skipped; nullopt if the
// last few lines hold none.
std::optional<Progress> parse_tqdm(std::string_view tail);

// Seconds in tqdm's time format: "03", "01:02", "1:02:03" (nullopt for "?" or anything else).
std::optional<double> parse_tqdm_duration(std::string_view text);

// A number as tqdm prints it, with unit_scale's SI suffix: "45", "1.20k", "3.4M".
std::optional<double> parse_tqdm_number(std::string_view text);

// Longest message kept (a report's or a description's), in bytes (cut at a UTF-8 boundary).
inline constexpr std::size_t kProgressMessageBytes = 200;
inline constexpr std::size_t kProgressUnitBytes = 16;
// The longest ETA kept (a year): a tiny fraction of a long run predicts absurd times.
inline constexpr double kProgressMaxEtaS = 365.0 * 86400;

}  // namespace vramq::core
