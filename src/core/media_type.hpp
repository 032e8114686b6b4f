#pragma once
// What an uploaded file is, told by its first bytes, never by its name or the type a client
// claims (a file input's `media_types` in the catalog are checked against this). The patterns
// are those of the WHATWG MIME Sniffing Standard (images, audio and video, archives, fonts,
// "binary data bytes" for text), plus a few formats models take or give (TIFF, glTF, NumPy).
// Pure, no I/O.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace vramq::core {

// How many leading bytes sniff_media_type() reads (the standard's resource header).
inline constexpr std::size_t kSniffBytes = 512;

// The media type of a file starting with `head` (its first kSniffBytes bytes, or all of a
// shorter file): a known signature's type, else "text/plain" when no byte is one the standard
// calls binary (an empty file included), else "application/octet-stream".
std::string_view sniff_media_type(std::string_view head);

// Whether `type` is one of `allowed`: equal, or matched by a "major/*" or "*/*" entry. An
// empty list allows every type.
bool media_type_allowed(std::string_view type, const std::vector<std::string>& allowed);

// Whether `pattern` is a media type or a wildcard media_type_allowed() understands
// ("image/png", "image/*", "*/*").
bool valid_media_pattern(std::string_view pattern);

}  // namespace vramq::core
