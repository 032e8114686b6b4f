// Fuzz target: the records vramq reads back from disk: a packed job (the parked-jobs format), a
// supervisor's run record and its signal lines; and what the supervisor launcher reads from its
// socket (a launch request) and the server from the launcher (its answer). A packed job that
// unpacks must pack to a record that unpacks to the same job; so must a launch request.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/job_record.hpp"
#include "exec/launch_request.hpp"
#include "exec/supervisor_protocol.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  if (auto job = vramq::core::unpack_job(bytes)) {
    auto again = vramq::core::unpack_job(vramq::core::pack_job(*job));
    if (!again || !(*again == *job)) std::abort();  // the round trip must be exact
  }
  if (auto record = vramq::exec::parse_record(bytes)) {
    auto again = vramq::exec::parse_record(vramq::exec::format_record(*record));
    if (!again) std::abort();
  }
  if (auto request = vramq::exec::decode_launch_request(bytes)) {
    auto text = vramq::exec::encode_launch_request(*request);
    if (!text || vramq::exec::decode_launch_request(*text) != request) std::abort();
  }
  (void)vramq::exec::decode_launch_reply(bytes);
  (void)vramq::exec::parse_signal_line(bytes);
  (void)vramq::exec::parse_slot_file(bytes);
  return 0;
}
