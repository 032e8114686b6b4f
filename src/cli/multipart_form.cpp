#include "cli/multipart_form.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

namespace vramq::cli {

core::Result<Form> multipart_submit(const std::string& job, const std::vector<std::string>& files) {
  std::vector<std::pair<std::string, std::string>> parts;  // name, bytes
  std::vector<std::string> filenames;
  for (const std::string& f : files) {
    std::size_t eq = f.find('=');
    if (eq == std::string::npos || eq == 0) {
      return core::Error{fmt::format("--file {}: expected NAME=PATH", f)};
    }
    std::string path = f.substr(eq + 1);
    std::ifstream in(path, std::ios::binary);
    if (!in) return core::Error{fmt::format("--file {}: cannot read {}", f, path)};
    std::ostringstream bytes;
    bytes << in.rdbuf();
    if (!in && !in.eof()) return core::Error{fmt::format("--file {}: cannot read {}", f, path)};
    parts.emplace_back(f.substr(0, eq), bytes.str());
    filenames.push_back(std::filesystem::path(path).filename().string());
  }
  std::random_device random;
  Form form;
  // A boundary none of the parts holds.
  do {
    form.boundary = fmt::format("vramq-{:08x}{:08x}", random(), random());
  } while (job.find(form.boundary) != std::string::npos ||
           std::ranges::any_of(parts, [&](const auto& p) {
             return p.second.find(form.boundary) != std::string::npos;
           }));
  form.body = fmt::format(
      "--{}\r\nContent-Disposition: form-data; name=\"job\"\r\nContent-Type: "
      "application/json\r\n\r\n{}\r\n",
      form.boundary, job);
  for (std::size_t i = 0; i < parts.size(); ++i) {
    std::string filename;
    for (char ch : filenames[i])
      filename += (ch == '"' || ch == '\r' || ch == '\n') ? '_' : ch;
    form.body += fmt::format(
        "--{}\r\nContent-Disposition: form-data; name=\"{}\"; filename=\"{}\"\r\n"
        "Content-Type: application/octet-stream\r\n\r\n",
        form.boundary, parts[i].first, filename);
    form.body += parts[i].second;
    form.body += "\r\n";
  }
  form.body += fmt::format("--{}--\r\n", form.boundary);
  return form;
}

}  // namespace vramq::cli
