#include "core/job_record.hpp"

#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

namespace vramq::core {
namespace {

// Every integer (sizes, enums and flags too) is a zigzag LEB128 varint: most fields of a queued
// job are small or absent, and 100,000 queued jobs are kept this way (a byte for an empty string
// or a 0 instead of 4 or 8).
class Writer {
 public:
  template <typename T>
  requires std::is_integral_v<T> || std::is_enum_v<T>
  void put(T v) {
    auto n = static_cast<std::int64_t>(v);
    auto z = (static_cast<std::uint64_t>(n) << 1) ^ static_cast<std::uint64_t>(n >> 63);
    while (z >= 0x80) {
      out_.push_back(static_cast<char>(z | 0x80));
      z >>= 7;
    }
    out_.push_back(static_cast<char>(z));
  }
  void put(std::string_view s) {
    put(static_cast<std::int64_t>(s.size()));
    out_.append(s);
  }
  template <typename T>
  void put(const std::optional<T>& v) {
    put(static_cast<std::uint8_t>(v.has_value()));
    if (v) put(*v);
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

// Reads what Writer wrote; every read is bounds-checked and a short record sets `ok` false.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  template <typename T>
  requires std::is_integral_v<T> || std::is_enum_v<T>
  void get(T& v) {
    std::uint64_t z = 0;
    for (int shift = 0;; shift += 7) {
      if (shift > 63 || !take(1)) {
        ok_ = false;
        return;
      }
      auto byte = static_cast<unsigned char>(in_[at_ - 1]);
      z |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) break;
    }
    auto n = static_cast<std::int64_t>(z >> 1) ^ -static_cast<std::int64_t>(z & 1);
    using U = std::conditional_t<std::is_enum_v<T>, std::underlying_type<T>, std::type_identity<T>>;
    using I = typename U::type;
    bool fits = false;
    if constexpr (std::is_same_v<I, bool>) {
      fits = n == 0 || n == 1;
    } else if constexpr (std::is_unsigned_v<I>) {
      fits = n >= 0 && static_cast<std::uint64_t>(n) <= std::numeric_limits<I>::max();
    } else {
      fits = n >= std::numeric_limits<I>::min() && n <= std::numeric_limits<I>::max();
    }
    if (!fits) {
      ok_ = false;  // not something Writer wrote for this field
      return;
    }
    v = static_cast<T>(static_cast<I>(n));
  }
  void get(std::string& s) {
    std::int64_t n = 0;
    get(n);
    if (!ok_ || n < 0 || !take(static_cast<std::size_t>(n))) {
      ok_ = false;
      return;
    }
    auto len = static_cast<std::size_t>(n);
    s.assign(in_.substr(at_ - len, len));
  }
  template <typename T>
  void get(std::optional<T>& v) {
    std::uint8_t has = 0;
    get(has);
    v.reset();
    if (has != 0 && ok_) get(v.emplace());
  }
  bool ok() const { return ok_; }
  bool done() const { return ok_ && at_ == in_.size(); }

 private:
  bool take(std::size_t n) {
    if (!ok_ || in_.size() - at_ < n) {
      ok_ = false;
      return false;
    }
    at_ += n;
    return true;
  }
  std::string_view in_;
  std::size_t at_ = 0;
  bool ok_ = true;
};

// One list of fields for both directions, so that packing and unpacking cannot drift apart.
template <typename Io, typename J>
void fields(Io& io, J& j) {
  auto& s = j.spec;
  io(j.id, s.task, s.params_json, s.argv, s.cwd, s.env, s.vram_mb, s.priority, s.timeout_s,
     s.max_retries, j.state, j.reason, j.gpu, j.attempt, j.submitted_at_ms, j.queued_at_ms,
     j.started_at_ms, j.finished_at_ms, j.exit_code, j.signal, j.error, j.peak_vram_mb, j.output,
     j.pid, j.pid_start_ticks, j.warnings, j.output_truncated, s.retry_delay_s, s.after_ok,
     s.after_any, j.not_before_ms, s.name, s.labels, s.owner, s.gpus, j.gpus, j.worker,
     j.restart_requeued, s.preemptible, j.borrowed, j.preemptions);
}

struct Pack {
  Writer w;
  void one(const std::vector<std::string>& v) {
    w.put(static_cast<std::uint32_t>(v.size()));
    for (const std::string& s : v)
      w.put(std::string_view(s));
  }
  void one(const std::vector<std::pair<std::string, std::string>>& v) {
    w.put(static_cast<std::uint32_t>(v.size()));
    for (const auto& [k, val] : v) {
      w.put(std::string_view(k));
      w.put(std::string_view(val));
    }
  }
  template <typename T>
  requires std::is_integral_v<T>
  void one(const std::vector<T>& v) {
    w.put(static_cast<std::uint32_t>(v.size()));
    for (T x : v)
      w.put(x);
  }
  void one(const std::string& s) { w.put(std::string_view(s)); }
  template <typename T>
  void one(const std::optional<T>& v) {
    w.put(v);
  }
  template <typename T>
  requires std::is_integral_v<T> || std::is_enum_v<T>
  void one(T v) { w.put(v); }
  template <typename... T>
  void operator()(const T&... v) {
    (one(v), ...);
  }
};

struct Unpack {
  Reader r;
  void one(std::vector<std::string>& v) {
    std::uint32_t n = 0;
    r.get(n);
    for (std::uint32_t i = 0; i < n && r.ok(); ++i)
      r.get(v.emplace_back());
  }
  void one(std::vector<std::pair<std::string, std::string>>& v) {
    std::uint32_t n = 0;
    r.get(n);
    for (std::uint32_t i = 0; i < n && r.ok(); ++i) {
      auto& [k, val] = v.emplace_back();
      r.get(k);
      r.get(val);
    }
  }
  template <typename T>
  requires std::is_integral_v<T>
  void one(std::vector<T>& v) {
    std::uint32_t n = 0;
    r.get(n);
    for (std::uint32_t i = 0; i < n && r.ok(); ++i)
      r.get(v.emplace_back());
  }
  void one(std::string& s) { r.get(s); }
  template <typename T>
  void one(std::optional<T>& v) {
    r.get(v);
  }
  template <typename T>
  requires std::is_integral_v<T> || std::is_enum_v<T>
  void one(T& v) { r.get(v); }
  template <typename... T>
  void operator()(T&... v) {
    (one(v), ...);
  }
};

}  // namespace

std::string pack_job(const Job& job) {
  Pack p;
  fields(p, job);
  return p.w.take();
}

Result<Job> unpack_job(std::string_view record) {
  Unpack u{Reader(record)};
  Job job;
  fields(u, job);
  if (!u.r.done()) return Error{"a packed job record is truncated or malformed"};
  return job;
}

}  // namespace vramq::core
