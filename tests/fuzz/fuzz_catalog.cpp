// Fuzz target: a task catalog as an operator writes it (TOML), then every task resolved with its
// defaults, and its VRAM rule's range.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/task_catalog.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto catalog = vramq::core::TaskCatalog::parse(text, "/usr/lib/vramq");
  if (!catalog) return 0;
  for (const vramq::core::TaskDef& task : catalog->tasks()) {
    (void)vramq::core::resolve_task(task, {}, "/data/jobs/1", 1);
    (void)vramq::core::reservation_range(task);
  }
  return 0;
}
