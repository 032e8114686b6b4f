#pragma once
// What `vramq top` shows and how it draws it, with no terminal in sight: the model is fed the
// API's objects (a snapshot from GET /v1/gpus, /v1/jobs?state=running, /v1/queue, /v1/workers,
// then each event of GET /v1/events), and render() turns it into the screen's lines for a given
// size. Pure (cli/top.cpp owns the terminal, the threads and the keys).

#include <boost/json/object.hpp>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace vramq::cli {

struct TopModel {
  std::map<std::int64_t, boost::json::object> gpus;     // by index
  std::map<std::int64_t, boost::json::object> running;  // by job id
  boost::json::object queue;                            // {"queued", "waiting", "head"}
  std::map<std::int64_t, boost::json::object> workers;  // by id

  // One event's data: `job` (running ones kept, others dropped), `gpu`, `worker` (exited ones
  // dropped), `queue`. Other types change nothing.
  void apply(std::string_view type, const boost::json::object& data);
};

// The jobs a person can move through with the arrows: the running ones, then the queue's head.
std::vector<std::int64_t> selectable(const TopModel& m);

struct TopFrame {
  int cols = 80;
  int rows = 24;
  std::int64_t selected = 0;  // a job id, or 0
  std::int64_t now_ms = 0;
  std::string title;   // the server, and whether the stream is live
  std::string footer;  // keys, or a question
};

// The screen: at most `rows` lines, none wider than `cols` (ASCII only).
std::vector<std::string> render_top(const TopModel& m, const TopFrame& f);

// One GPU's memory as a bar of `width` cells: '#' measured use of vramq's jobs and workers,
// '+' reserved but not (yet) used, '=' used by others, '.' free.
std::string gpu_bar(const boost::json::object& gpu, int width);

}  // namespace vramq::cli
