#pragma once
// One warm worker's protocol connection (exec/worker_protocol.hpp) on the event loop: the
// server's end of the socket that is the worker's stdin and stdout. Lines from the worker are
// parsed and handed to `on_message` in order; a line that breaks the protocol (not JSON, unknown
// type, longer than kMaxWorkerLineBytes) is reported as such and ends reading, as does the
// worker's end of the socket closing. Writes are queued and sent one at a time; a worker that
// does not read (more than kMaxQueuedBytes waiting) is reported broken instead of the queue
// growing. Ownership: the orchestrator owns one per worker; destroying it closes the socket
// (the worker sees EOF on its stdin) and no handler runs after that.
// Thread safety: loop only.

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <deque>
#include <functional>
#include <memory>
#include <string>

#include "core/error.hpp"
#include "exec/worker_protocol.hpp"

namespace vramq::service {

class WorkerChannel {
 public:
  // A message, or why the channel is broken or closed (then no more messages come): `eof` when
  // the worker closed its end (it is probably exiting), else it broke the protocol.
  using MessageHandler = std::function<void(const exec::WorkerMessage&)>;
  using BrokenHandler = std::function<void(std::string why, bool eof)>;

  // Takes ownership of `fd` (a connected unix stream socket).
  WorkerChannel(boost::asio::io_context& ioc, int fd);
  ~WorkerChannel();
  WorkerChannel(const WorkerChannel&) = delete;
  WorkerChannel& operator=(const WorkerChannel&) = delete;

  void start(MessageHandler on_message, BrokenHandler on_broken);
  // Queues one line (with its newline) for the worker.
  void send(std::string line);
  // Stops reading and writing and closes the socket: the worker reads EOF.
  void close();

  static constexpr std::size_t kMaxQueuedBytes = 4 << 20;

 private:
  void read_next();
  void write_next();
  void fail(std::string why, bool eof = false);

  // Shared with pending operations, which may complete (aborted) after this object is gone.
  struct State {
    explicit State(boost::asio::io_context& ioc, int fd);
    boost::asio::local::stream_protocol::socket socket;
    std::string in;
    std::deque<std::string> out;
    std::size_t queued_bytes = 0;
    bool writing = false;
    bool closed = false;
    MessageHandler on_message;
    BrokenHandler on_broken;
  };
  std::shared_ptr<State> state_;
};

}  // namespace vramq::service
