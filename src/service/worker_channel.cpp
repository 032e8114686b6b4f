#include "service/worker_channel.hpp"

#include <fmt/format.h>
#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>

namespace vramq::service {
namespace asio = boost::asio;
using stream = asio::local::stream_protocol;

WorkerChannel::State::State(asio::io_context& ioc, int fd) : socket(ioc, stream(), fd) {}

WorkerChannel::WorkerChannel(asio::io_context& ioc, int fd)
    : state_(std::make_shared<State>(ioc, fd)) {}

WorkerChannel::~WorkerChannel() {
  close();
}

void WorkerChannel::start(MessageHandler on_message, BrokenHandler on_broken) {
  state_->on_message = std::move(on_message);
  state_->on_broken = std::move(on_broken);
  read_next();
}

void WorkerChannel::close() {
  if (state_->closed) return;
  state_->closed = true;
  state_->on_message = nullptr;
  state_->on_broken = nullptr;
  boost::system::error_code ec;
  state_->socket.close(ec);
}

void WorkerChannel::fail(std::string why, bool eof) {
  if (state_->closed) return;
  BrokenHandler broken = std::move(state_->on_broken);
  close();
  if (broken) broken(std::move(why), eof);
}

void WorkerChannel::read_next() {
  std::shared_ptr<State> s = state_;
  asio::async_read_until(
      s->socket, asio::dynamic_buffer(s->in, exec::kMaxWorkerLineBytes + 1), '\n',
      [this, s](const boost::system::error_code& ec, std::size_t n) {
        if (s->closed) return;  // closed by us: `this` may be gone
        if (ec == asio::error::not_found) {
          fail(fmt::format("a line longer than {} bytes", exec::kMaxWorkerLineBytes));
          return;
        }
        if (ec) {
          bool eof = ec == asio::error::eof;
          fail(eof ? "it closed its stdout" : ec.message(), eof);
          return;
        }
        std::string line = s->in.substr(0, n - 1);
        s->in.erase(0, n);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty()) {  // blank lines are tolerated
          read_next();
          return;
        }
        core::Result<exec::WorkerMessage> m = exec::parse_worker_message(line);
        if (!m) {
          fail(fmt::format("a line that breaks the protocol ({}): {:.200}", m.error().message,
                           line));
          return;
        }
        s->on_message(*m);
        if (!s->closed) read_next();
      });
}

void WorkerChannel::send(std::string line) {
  State& s = *state_;
  if (s.closed) return;
  s.queued_bytes += line.size();
  if (s.queued_bytes > kMaxQueuedBytes) {
    fail("it does not read its stdin");
    return;
  }
  s.out.push_back(std::move(line));
  if (!s.writing) write_next();
}

void WorkerChannel::write_next() {
  std::shared_ptr<State> s = state_;
  if (s->out.empty() || s->closed) {
    s->writing = false;
    return;
  }
  s->writing = true;
  asio::async_write(s->socket, asio::buffer(s->out.front()),
                    [this, s](const boost::system::error_code& ec, std::size_t) {
                      if (s->closed) return;
                      if (ec) {
                        fail(fmt::format("writing to its stdin failed: {}", ec.message()));
                        return;
                      }
                      s->queued_bytes -= s->out.front().size();
                      s->out.pop_front();
                      write_next();
                    });
}

}  // namespace vramq::service
