// Fuzz target: what a warm worker may send vramq (a worker is a process anyone can write, so its
// stdout is untrusted input), and what vramq sends workers read back by a C++ worker. A message
// that parses must survive being written again by the helpers the C++ workers use.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "exec/supervisor_protocol.hpp"
#include "exec/worker_protocol.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using vramq::exec::WorkerMessageType;
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  if (auto m = vramq::exec::parse_worker_message(bytes)) {
    std::string again;
    if (m->type == WorkerMessageType::result) again = vramq::exec::result_line(m->job, m->text);
    if (m->type == WorkerMessageType::error) {
      again = vramq::exec::error_line(m->job, m->text, m->retryable);
    }
    if (!again.empty()) {
      auto back =
          vramq::exec::parse_worker_message(std::string_view(again).substr(0, again.size() - 1));
      if (!back || back->job != m->job || back->text != m->text) std::abort();
    }
    (void)vramq::exec::to_string(m->type);
  }
  (void)vramq::exec::parse_worker_command(bytes);
  (void)vramq::exec::parse_stderr_line(bytes);
  return 0;
}
