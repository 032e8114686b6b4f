// Fuzz target: the server's config file (TOML) and the values its keys and flags take: sizes,
// GPU SPEC strings, tolerances, HOST:PORT, token files. The first byte picks the parser, so that
// one corpus covers them all.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/config.hpp"
#include "core/units.hpp"
#include "core/vram_guard.hpp"
#include "server/auth.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 6) {
    case 0:
      if (auto c = vramq::core::parse_config(text, vramq::core::Config{})) {
        (void)vramq::core::validate_config(*c);
      }
      break;
    case 1:
      (void)vramq::core::parse_size_mb(text);
      break;
    case 2:
      if (auto spec = vramq::core::parse_gpu_spec(text)) {
        for (std::int64_t mb : *spec)
          (void)vramq::core::format_mb(mb);
      }
      break;
    case 3:
      (void)vramq::core::parse_tolerance(text);
      (void)vramq::core::parse_vram_policy(text);
      break;
    case 4:
      (void)vramq::core::parse_host_port(text);
      break;
    default:
      (void)vramq::server::parse_tokens(text);
      break;
  }
  return 0;
}
