// `vramq fetch` and `vramq logs`: a job's files and logs, downloaded or streamed.
#include <fmt/format.h>
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "cli/client_call.hpp"
#include "cli/client_commands.hpp"
#include "util/confined_files.hpp"
#include "util/json_text.hpp"

namespace vramq::cli {
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

// One file of a job into `target` (written to a temporary name, renamed once whole).
int fetch_one(const ClientOptions& c, std::int64_t id, const std::string& path,
              const std::filesystem::path& target) {
  std::error_code ec;
  std::filesystem::create_directories(target.parent_path(), ec);
  std::filesystem::path partial = target;
  partial += ".partial";
  std::ofstream out(partial, std::ios::binary | std::ios::trunc);
  if (!out) {
    std::cerr << fmt::format("vramq: cannot write {}\n", partial.string());
    return kExitUsage;
  }
  std::int64_t bytes = 0;
  auto r = call(c, "GET", fmt::format("/v1/jobs/{}/files/{}", id, query_value_path(path)), {}, 30s,
                [&](std::string_view piece) {
                  out.write(piece.data(), static_cast<std::streamsize>(piece.size()));
                  bytes += static_cast<std::int64_t>(piece.size());
                  return true;
                });
  out.close();
  if (!r || r->status != 200 || !out) {
    std::filesystem::remove(partial, ec);
    if (!r) return kExitUnreachable;
    return r->status != 200 ? report_error(*r) : kExitUnreachable;
  }
  std::filesystem::rename(partial, target, ec);
  if (!c.json) std::cout << fmt::format("{} ({} bytes)\n", target.string(), bytes);
  return kExitOk;
}

}  // namespace

int fetch(const ClientOptions& c, std::int64_t id, const std::string& path, std::string dir) {
  if (!path.empty()) {
    std::filesystem::path name = std::filesystem::path(path).filename();
    return fetch_one(c, id, path, std::filesystem::path(dir.empty() ? "." : dir) / name);
  }
  if (dir.empty()) dir = fmt::format("job-{}", id);
  auto r = call(c, "GET", fmt::format("/v1/jobs/{}/files", id));
  if (!r) return kExitUnreachable;
  if (r->status != 200 || !r->body.is_object()) return report_error(*r);
  int rc = kExitOk;
  for (const json::value& f : r->body.at("files").as_array()) {
    if (str(f.at("type")) != "file") continue;
    std::string rel = str(f.at("path"));
    // The server's listing is trusted no further than the job it describes.
    if (!util::plain_relative_path(rel)) continue;
    int one = fetch_one(c, id, rel, std::filesystem::path(dir) / rel);
    if (one != kExitOk && rc == kExitOk) rc = one;
  }
  if (r->body.at("truncated").as_bool()) {
    std::cerr << "vramq: the job has more files than one listing shows; fetch them by PATH\n";
  }
  return rc;
}

int logs(const ClientOptions& c, std::int64_t id, bool stderr_stream, bool follow, int attempt) {
  std::string target = fmt::format("/v1/jobs/{}/log?stream={}&follow={}", id,
                                   stderr_stream ? "stderr" : "stdout", follow ? 1 : 0);
  if (attempt > 0) target += fmt::format("&attempt={}", attempt);
  std::string_view stream = stderr_stream ? "stderr" : "stdout";
  // --json: one object {"id", "stream", "text"}; with -f one such line per piece as it arrives.
  std::string whole;
  auto r = call(c, "GET", target, {}, 30s, [&](std::string_view piece) {
    if (!c.json) {
      std::cout.write(piece.data(), static_cast<std::streamsize>(piece.size()));
    } else if (follow) {
      std::cout << util::to_json_text(json::object{{"id", id}, {"stream", stream}, {"text", piece}})
                << "\n";
    } else {
      whole.append(piece);
    }
    std::cout.flush();
    return true;
  });
  if (!r) return kExitUnreachable;
  if (r->status != 200) return report_error(*r);
  if (c.json && !follow) {
    std::cout << util::to_json_text(json::object{{"id", id}, {"stream", stream}, {"text", whole}})
              << "\n";
  }
  return kExitOk;
}

}  // namespace vramq::cli
