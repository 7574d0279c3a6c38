// The console's HTTP server (cpp-httplib): the page, its JSON and event-stream routes,
// and /metrics. Reading needs nothing; what changes state (POST) needs
// `Authorization: Bearer TOKEN` with a token the backend accepts. Listening on a loopback
// address, it answers only requests whose Host names it (127.0.0.1:PORT, localhost:PORT,
// [::1]:PORT), so a web site cannot reach it by rebinding a name of its own to 127.0.0.1.
// Routes (README, "Console"):
//   GET  /                      the page (HTML, JS and CSS compiled in; nothing fetched)
//   GET  /api/state             {"inspect": the Hub API's inspect, "console": {…}}
//   GET  /api/live?pattern=P&last=N|from=SEQ   server-sent events: history, then live
//   GET  /api/rates?seconds=S   events per second per module
//   GET  /api/timeline          each service's lifecycle transitions
//   GET  /api/logs?name=INSTANCE&lines=N       the end of the instance's log (text)
//   POST /api/modules/NAME/start|stop|restart  the API's start, stop, restart
//   POST /api/instances/NAME.X/stop            the API's stop of a dynamic instance
//   GET  /metrics               Prometheus text format (prometheus_text.h)
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bus/status.h"
#include "console/console_config.h"
#include "console/event_view.h"
#include "console/live_feed.h"

namespace hub::console {

// What the server asks of the hub; main.cpp wires it to the SDK and the API.
struct ConsoleBackend {
  // The inspect result (JSON text).
  std::function<Result<std::string>()> inspect;
  // Carries out an API request (JSON text) with the rights the console was granted.
  std::function<Result<std::string>(const std::string& request)> control;
  // Replays the journal from `from` (0: from where `last` matching events begin) for
  // `patterns`, calling `on_event` in order until it returns false; returns the newest seq
  // on the bus then.
  std::function<Result<uint64_t>(uint64_t from, uint64_t last,
                                 const std::vector<std::string>& patterns,
                                 const std::function<bool(const EventView&)>& on_event)>
      history;
  // The log of a service instance.
  std::function<std::filesystem::path(const std::string& instance)> log_file;
  // The tokens a state change may present now (the token file's, the admin secret);
  // empty: none configured, every change is refused.
  std::function<std::vector<std::string>()> tokens;
};

class ConsoleServer {
 public:
  ConsoleServer(const ConsoleConfig& config, ConsoleBackend backend, LiveFeed& feed);
  ~ConsoleServer();
  ConsoleServer(const ConsoleServer&) = delete;
  ConsoleServer& operator=(const ConsoleServer&) = delete;

  // Binds config.host:config.port (port 0: one the kernel picks); fails naming it.
  Status bind();
  // The port bound.
  int port() const;
  // Serves until stop() (on the calling thread).
  void serve();
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// True when `presented` equals one of `tokens` (constant time in the token's length).
bool token_matches(const std::string& presented, const std::vector<std::string>& tokens);

}  // namespace hub::console
