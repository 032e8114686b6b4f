#pragma once
// Reading files that a job can touch: its logs, its progress file, the numbers its batch step
// leaves, the records beside it. A job is untrusted code and may replace any of them with a
// symlink (to the token file, to another owner's output) or a FIFO (whose open and read block
// for good: one once wedged the server's only file thread). So every such file is opened with
// O_NOFOLLOW | O_NONBLOCK | O_NOCTTY, checked to be a regular file with fstat, and read through
// that descriptor only: a link or anything but a regular file is never read, and no open or read
// waits on the job. Blocking only as a disk read is: run these off the event loop.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/system/result.hpp>

namespace vramq::util {

// Why a file cannot be read: the client's fault (bad path), no such file, not a regular file (a
// symlink, a FIFO, a directory...), or another failure.
enum class OpenErrc { bad_path, not_found, not_a_file, failed };
struct OpenError {
  OpenErrc code = OpenErrc::failed;
  std::string message;
};

// An open regular file; the descriptor closes with the last owner.
class OpenFile {
 public:
  explicit OpenFile(int fd, std::int64_t size) : fd_(fd), size_(size) {}
  ~OpenFile();
  OpenFile(const OpenFile&) = delete;
  OpenFile& operator=(const OpenFile&) = delete;
  std::int64_t size() const { return size_; }  // when it was opened
  // Up to `max_bytes` from `offset` ("" at the end).
  std::string read(std::int64_t offset, std::size_t max_bytes) const;

 private:
  int fd_;
  std::int64_t size_;
};

// Takes an open descriptor: keeps it if it is a regular file, else closes it (not_a_file).
boost::system::result<std::shared_ptr<OpenFile>, OpenError> regular_file(int fd,
                                                                         const std::string& name);

// Opens `path` as the file comment says; its last component must not be a symlink.
boost::system::result<std::shared_ptr<OpenFile>, OpenError> open_untrusted(const std::string& path);

// Up to `max_bytes` of a file from `offset` ("" at or past its end, or if it is absent or no
// regular file).
std::string read_range(const std::string& path, std::int64_t offset, std::size_t max_bytes);

// The size of a regular file, its last component not followed (nullopt: absent, a link, or no
// regular file): what std::filesystem::file_size would tell of a link's target, it does not.
std::optional<std::int64_t> regular_size(const std::string& path);

// Writes `data` as the whole of `path` (created with `mode`) for a server more privileged than
// the job that owns the directory: only a regular file with one name is truncated and written (a
// link, a FIFO, a hard link to someone else's file is refused: false, nothing written).
bool write_untrusted(const std::string& path, std::string_view data, int mode = 0600);

// The last `max_bytes` of a file ("" if it is absent or no regular file).
std::string read_tail(const std::string& path, std::size_t max_bytes);

// A whole number of MiB that a job (or its batch step) left in a file, alone on its line
// (nullopt: no such file, no regular file, or not such a number).
std::optional<std::int64_t> read_mb_file(const std::string& path);

}  // namespace vramq::util
