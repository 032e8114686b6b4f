#include "core/media_type.hpp"

#include <algorithm>
#include <array>

namespace vramq::core {
namespace {

// A signature: `bytes` at `offset`, where '?' in `mask` means any byte there.
struct Signature {
  std::string_view bytes;
  std::string_view type;
  std::size_t offset = 0;
  std::string_view mask;  // "" : every byte must match
};

using namespace std::string_view_literals;

// In the standard's order where two could overlap (RIFF: WebP before WAVE by their fourcc).
constexpr std::array kSignatures{
    Signature{"\x89PNG\r\n\x1a\n"sv, "image/png"},
    Signature{"\xff\xd8\xff"sv, "image/jpeg"},
    Signature{"GIF87a"sv, "image/gif"},
    Signature{"GIF89a"sv, "image/gif"},
    Signature{"RIFF????WEBPVP"sv, "image/webp", 0, "xxxx????xxxxxx"},
    Signature{"BM"sv, "image/bmp"},
    Signature{"\x00\x00\x01\x00"sv, "image/x-icon"},
    Signature{"\x00\x00\x02\x00"sv, "image/x-icon"},
    Signature{"II*\x00"sv, "image/tiff"},
    Signature{"MM\x00*"sv, "image/tiff"},
    Signature{"RIFF????WAVE"sv, "audio/wave", 0, "xxxx????xxxx"},
    Signature{"RIFF????AVI "sv, "video/avi", 0, "xxxx????xxxx"},
    Signature{"ID3"sv, "audio/mpeg"},
    Signature{"OggS\x00"sv, "application/ogg"},
    Signature{"fLaC"sv, "audio/flac"},
    Signature{"\x1a\x45\xdf\xa3"sv, "video/webm"},
    Signature{"%PDF-"sv, "application/pdf"},
    Signature{"%!PS-Adobe-"sv, "application/postscript"},
    Signature{"PK\x03\x04"sv, "application/zip"},
    Signature{"\x1f\x8b\x08"sv, "application/gzip"},
    Signature{"Rar!\x1a\x07"sv, "application/x-rar-compressed"},
    Signature{"7z\xbc\xaf\x27\x1c"sv, "application/x-7z-compressed"},
    Signature{"wOFF"sv, "font/woff"},
    Signature{"wOF2"sv, "font/woff2"},
    Signature{"OTTO"sv, "font/otf"},
    Signature{"\x00\x01\x00\x00"sv, "font/ttf"},
    Signature{"glTF"sv, "model/gltf-binary"},
    Signature{"\x93NUMPY"sv, "application/x-npy"},
};

bool matches(const Signature& s, std::string_view head) {
  if (head.size() < s.offset + s.bytes.size()) return false;
  for (std::size_t i = 0; i < s.bytes.size(); ++i) {
    if (!s.mask.empty() && s.mask[i] == '?') continue;
    if (head[s.offset + i] != s.bytes[i]) return false;
  }
  return true;
}

// ISO base media files (MP4, HEIF, AVIF): a box of type `ftyp` first, its major brand naming
// the format.
std::string_view iso_media(std::string_view head) {
  if (head.size() < 12 || head.substr(4, 4) != "ftyp") return {};
  std::string_view brand = head.substr(8, 4);
  if (brand == "avif" || brand == "avis") return "image/avif";
  if (brand == "heic" || brand == "heix" || brand == "mif1" || brand == "msf1") {
    return "image/heic";
  }
  if (brand.starts_with("mp4") || brand == "isom" || brand == "avc1" || brand == "iso2") {
    return "video/mp4";
  }
  if (brand.starts_with("qt")) return "video/quicktime";
  return {};
}

// The standard's binary data bytes: control characters that text does not hold.
bool binary_byte(unsigned char c) {
  return c <= 0x08 || c == 0x0b || (c >= 0x0e && c <= 0x1a) || (c >= 0x1c && c <= 0x1f);
}

bool token_char(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
         std::string_view("!#$&-^_.+").find(c) != std::string_view::npos;
}

}  // namespace

std::string_view sniff_media_type(std::string_view head) {
  head = head.substr(0, kSniffBytes);
  for (const Signature& s : kSignatures) {
    if (matches(s, head)) return s.type;
  }
  if (std::string_view iso = iso_media(head); !iso.empty()) return iso;
  // Byte order marks say text whatever follows (UTF-16 holds zero bytes).
  if (head.starts_with("\xfe\xff") || head.starts_with("\xff\xfe") ||
      head.starts_with("\xef\xbb\xbf")) {
    return "text/plain";
  }
  bool binary =
      std::ranges::any_of(head, [](char c) { return binary_byte(static_cast<unsigned char>(c)); });
  return binary ? "application/octet-stream" : "text/plain";
}

bool media_type_allowed(std::string_view type, const std::vector<std::string>& allowed) {
  if (allowed.empty()) return true;
  std::string_view major = type.substr(0, type.find('/'));
  return std::ranges::any_of(allowed, [&](const std::string& a) {
    if (a == "*/*" || a == type) return true;
    return a.size() == major.size() + 2 && a.ends_with("/*") && a.starts_with(major);
  });
}

bool valid_media_pattern(std::string_view pattern) {
  std::size_t slash = pattern.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == pattern.size()) return false;
  std::string_view major = pattern.substr(0, slash);
  std::string_view minor = pattern.substr(slash + 1);
  if (major == "*") return minor == "*";
  if (!std::ranges::all_of(major, token_char)) return false;
  return minor == "*" || std::ranges::all_of(minor, token_char);
}

}  // namespace vramq::core
