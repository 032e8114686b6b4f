#pragma once
// One line that says where a job stands, from its object (GET /v1/jobs/{id} or a `job` event):
// while queued, its place and why it waits, in words; while running, its GPU, a progress bar
// with ETA, measured against reserved VRAM and the time it has run. `vramq submit --wait` and
// `vramq wait` redraw it in place on a terminal; elsewhere they print a line when its state,
// place or reason changes. Pure formatting (times come in as arguments).

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vramq::cli {

std::string live_line(const boost::json::object& job, std::int64_t now_ms);

// What, when it changes, deserves a new line in a log: the state, the GPU, the place, the reason.
std::string live_key(const boost::json::object& job);

// A pending reason in words ("vram" -> "waiting for VRAM to free up"); unknown ones as they are.
std::string_view reason_words(std::string_view reason);

// "[#####-----]" for `fraction` of `width` cells.
std::string progress_bar(double fraction, int width);
// "0:07", "12:03", "1:02:03".
std::string clock_text(double seconds);
// "512 MiB", "5.8 GiB".
std::string mib_text(std::int64_t mib);
// "2026-11-29T16:43:36.621Z" -> Unix ms (nullopt for anything else).
std::optional<std::int64_t> parse_rfc3339_ms(std::string_view text);

}  // namespace vramq::cli
