#pragma once
// Files inside one directory, reached only from inside it: what GET /v1/jobs/{id}/files serves
// from a job's directory. A relative path is checked (no "..", no absolute path, no empty or "."
// component) and then opened with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), so that the
// kernel refuses any symlink on the way, even one a job swaps in after the check. A listing
// walks the tree without following symlinks (they are listed as such). Blocking: run these off
// the event loop.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "util/error.hpp"
#include "util/untrusted_files.hpp"

namespace vramq::util {

struct FileEntry {
  std::string path;  // relative to the directory, '/'-separated
  std::string type;  // "file", "dir", "symlink" or "other"
  std::int64_t size = 0;
  std::int64_t modified_ms = 0;  // Unix milliseconds
};

// Every entry under `dir`, depth first, sorted by path; at most `max_entries` (then `truncated`).
struct Listing {
  std::vector<FileEntry> entries;
  bool truncated = false;
};
Result<Listing> list_files(const std::string& dir, std::size_t max_entries);

// Checks `relative` and opens it beneath `dir` (see the file comment).
boost::system::result<std::shared_ptr<OpenFile>, OpenError> open_beneath(const std::string& dir,
                                                                         std::string_view relative);

// The check alone: a relative path of normal components, no NUL.
bool plain_relative_path(std::string_view relative);

// Removes `dir` and everything in it, reached only from inside (openat, unlinkat, O_NOFOLLOW):
// a job that swaps a directory of its tree for a symlink while it is removed gets its link
// removed, never what it points to (std::filesystem::remove_all goes by path). At most
// kMaxRemoveDepth levels; what is deeper stays, and the error says so. A missing `dir` is no
// error.
inline constexpr int kMaxRemoveDepth = 256;
std::error_code remove_tree(const std::string& dir);

}  // namespace vramq::util
