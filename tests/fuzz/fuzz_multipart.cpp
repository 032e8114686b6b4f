// Fuzz target: a multipart/form-data upload body (any client may send one) and the sniffing of
// the files it carries. The input's first byte picks where the body is split in two; reading it
// whole and in pieces must give the same parts, the same end and the same error or none.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "core/media_type.hpp"
#include "server/multipart.hpp"

namespace {

struct Outcome {
  std::vector<std::string> parts;  // name, filename, type and data of each part, in one string
  bool done = false;
  bool failed = false;
};

Outcome read(std::string_view body, std::size_t split) {
  using Kind = vramq::server::MultipartReader::Event::Kind;
  vramq::server::MultipartReader reader("xyz", {.head_bytes = 256, .parts = 16});
  Outcome out;
  std::vector<vramq::server::MultipartReader::Event> events;
  for (std::string_view piece : {body.substr(0, split), body.substr(split)}) {
    if (!reader.feed(piece, events)) {
      out.failed = true;
      return out;
    }
    for (const auto& e : events) {
      if (e.kind == Kind::head) {
        out.parts.push_back(e.head.name + '\0' + e.head.filename.value_or("-") + '\0' +
                            e.head.content_type + '\0');
      } else if (e.kind == Kind::data) {
        if (out.parts.empty()) std::abort();  // data outside a part
        out.parts.back().append(e.data);
      }
    }
  }
  out.done = reader.done();
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::size_t split = data[0] % (body.size() + 1);
  Outcome whole = read(body, body.size());
  Outcome pieces = read(body, split);
  if (whole.failed != pieces.failed) std::abort();
  if (!whole.failed && (whole.parts != pieces.parts || whole.done != pieces.done)) std::abort();
  (void)vramq::server::form_data_boundary(body);
  std::string_view type = vramq::core::sniff_media_type(body);
  if (type.empty() || type.find('/') == std::string_view::npos) std::abort();
  return 0;
}
