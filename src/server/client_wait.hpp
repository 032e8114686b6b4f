#pragma once
// Waiting on behalf of a client that may leave: a handler that holds its answer (?wait=,
// /run-script, a log follower) races its wait with the client's hangup, so that a client that
// closes its connection releases the socket, the coroutine and the timer at once instead of when
// the job ends.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <optional>
#include <utility>

#include "server/http_types.hpp"

namespace vramq::server {

// What `op` gives, or nullopt when the client left first (`op` is then cancelled). Pass `op` as a
// named awaitable moved in (g++ 12 mis-destroys prvalue coroutine arguments).
template <class T>
boost::asio::awaitable<std::optional<T>> unless_client_leaves(boost::asio::awaitable<T> op,
                                                              Client* client) {
  if (client == nullptr) co_return co_await std::move(op);
  using namespace boost::asio::experimental::awaitable_operators;
  boost::asio::awaitable<void> gone = client->hangup();
  auto first = co_await (std::move(op) || std::move(gone));
  if (first.index() == 0) co_return std::move(std::get<0>(first));
  co_return std::nullopt;
}

}  // namespace vramq::server
