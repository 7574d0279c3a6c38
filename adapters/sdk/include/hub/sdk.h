// The hub SDK for services written in C++: everything a module's service needs, from the
// environment hubd starts it with (docs/SERVICES.md). The counterpart of Baetyl's
// `Context`:
//
//   int main() {
//     return hub::sdk::run([](hub::sdk::Context& ctx) -> hub::Status {
//       auto config = ctx.load_config();            // etc/hub/service.yml
//       ctx.notify_ready();
//       while (!ctx.wait_for(std::chrono::seconds(1))) ctx.publish("tick", "{}");
//       return hub::Status::ok();                    // SIGTERM or SIGINT arrived
//     });
//   }
//
// Thread-safe: every member may be called from any thread, handlers included.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <spdlog/logger.h>
#include <yaml-cpp/yaml.h>

#include "bus/status.h"
#include "hub/event.h"

namespace hub::sdk {

// The system configuration of the service: what hubd told it (HUB_* variables).
struct ServiceConfig {
  std::string root;
  std::string module;    // HUB_MODULE: the module, and the first level of its topics
  std::string service;   // HUB_SERVICE
  std::string instance;  // HUB_INSTANCE: NAME, or NAME.X for a dynamic instance
  std::string mode;      // HUB_MODE: "native"
  std::string workspace;
  std::string config_file;      // HUB_CONFIG_FILE: etc/hub/service.yml
  std::string credential_file;  // HUB_CREDENTIAL_FILE
  std::string data_dir;         // HUB_DATA_DIR: the module's persistent data
  std::string bus_ingest, bus_events, bus_replay, api_endpoint;
  int notify_fd = -1;  // HUB_NOTIFY_FD, or -1
};

// Called for each event of a subscription, in sequence order, on that subscription's own
// thread. Whatever it throws (of any type, std::exception or not) is logged and reported
// as MODULE/handler-failed, for every kind of subscription; the subscription goes on with
// the next event (a durable one counts the event as handled).
using Handler = std::function<void(const Event&)>;

// How a durable subscription counts an event as handled.
struct DurableOptions {
  // false: when its handler returns. true: when the service says so with
  // Context::acknowledge() (for a service that hands events on to something that confirms
  // them later: an MQTT broker's PUBACK, a database's commit). The mark then stays before
  // the first event handed out and not acknowledged, and a restart resumes there; every
  // event handed to the handler must be acknowledged, or the mark never passes it (an
  // event whose handler threw counts as acknowledged once every event before it is). Once
  // every event handed out is acknowledged and the subscription is idle, the mark also
  // covers the events after them that did not match.
  bool explicit_ack = false;
  // With explicit_ack: the mark is saved once this many acknowledged events are not yet
  // saved, which bounds what a crash hands out again; besides, when the last save is
  // 100 ms old, on an acknowledgement or while the subscription waits for events; and at
  // the end. 0: by time only.
  uint64_t save_every = 0;
  // Events the journal no longer held when they were due (retention removed them, or they
  // were damaged): their first..last sequence numbers (they may include events the patterns
  // would not have matched), on the subscription's thread, after they are logged. They
  // count as handled.
  std::function<void(uint64_t first, uint64_t last)> on_lost;
};

class Context {
 public:
  // Reads the environment. Fails when the process was not started by hubd. Blocks
  // SIGTERM and SIGINT in the calling thread (and the threads it starts later), so they
  // reach wait(): create the Context before any other thread, as run() does.
  static Result<std::unique_ptr<Context>> from_environment();
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  const ServiceConfig& config() const;
  bool is_native() const { return config().mode == "native"; }
  spdlog::logger& log();  // to stdout, which hubd writes to the instance's log

  // The module's own configuration (etc/hub/service.yml): as a node, or decoded into `T`
  // through YAML::convert<T>. Fails naming the file.
  Result<YAML::Node> load_config() const;
  template <typename T>
  Result<T> load_config_as() const {
    auto node = load_config();
    if (!node) return node.status();
    try {
      return node->as<T>();
    } catch (const YAML::Exception& e) {
      return Status::error(config().config_file + ": " + e.what());
    }
  }

  // Publishes EVENT as MODULE/EVENT ("tick" becomes "Timer/tick"; a full topic is taken
  // as it is, and the broker decides whether this service may publish it).
  Status publish(std::string_view event, std::string_view payload, bool retain = false);
  // The same, returning the sequence number the broker stamped on it once the event is
  // durable in the hub's journal; an error with the reason when the hub refuses it or
  // cannot keep it (disk full, I/O error: it may have been delivered all the same). With
  // `retain`, it also fails when the event was delivered but not retained (a bound of the
  // hub's retained store): the message says so, with the event's sequence number.
  Result<uint64_t> publish_confirmed(std::string_view event, std::string_view payload,
                                     bool retain = false);
  // Subscribes to MQTT-style `patterns` (empty: everything). Events published after this
  // returns reach `handler`. Lives until the Context goes. A subscription to everything
  // that falls behind gets what it missed from the hub's journal, in order.
  Status subscribe(std::vector<std::string> patterns, Handler handler);
  // A durable subscription: named, it remembers (in the module's data directory) the last
  // event its handler finished, and when the service starts again it first gets, from the
  // hub's journal, every matching event published while it was not running, then the
  // live ones. At least once: after a crash up to the last 100 ms of events come again.
  // It receives the whole bus and filters itself, so that even with patterns a handler
  // that falls behind misses nothing (gaps are fetched from the journal). Events the
  // journal no longer holds are logged as lost. One subscription per name: a second one
  // of the same name is refused.
  Status subscribe_durable(const std::string& name, std::vector<std::string> patterns,
                           Handler handler);
  // The same, counting events as handled the way `options` says (DurableOptions, above).
  Status subscribe_durable(const std::string& name, std::vector<std::string> patterns,
                           Handler handler, DurableOptions options);
  // For a durable subscription with `explicit_ack`: every event up to `seq` that was handed
  // to its handler is handled (cumulative, like a commit: the caller acknowledges a prefix,
  // never a single event out of order; a smaller `seq` than before changes nothing; a
  // larger one than the last event handed out counts up to that one). May be called from
  // any thread, also while the handler blocks. Returns the mark now saved on disk, from
  // which a restart would resume (it trails the acknowledged one by fewer than save_every
  // events, or by what was acknowledged since a save less than 100 ms old); an error
  // (kNotFound) when `name` is no such subscription, or (kBadRequest) one without
  // explicit_ack, or when the mark cannot be saved.
  Result<uint64_t> acknowledge(const std::string& name, uint64_t seq);

  // Says the service is ready (readiness: a line on HUB_NOTIFY_FD). Once; later calls
  // and services without readiness do nothing.
  void notify_ready();

  // Blocks until SIGTERM or SIGINT.
  void wait();
  // Waits at most `timeout`; true when the service is asked to stop.
  bool wait_for(std::chrono::milliseconds timeout);
  // Readable once the service is asked to stop (for poll loops), like Baetyl's WaitChan.
  int wait_fd() const;

  // The Hub API (docs/API.md), each call bounded by `timeout`. Results are JSON text. A
  // failure's code() is the API's (kNotFound, kForbidden, ...; kTimeout or kUnreachable
  // when no hub answered), and its message reads "CODE: why" (not_found: ...).
  Result<std::string> inspect_system(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  Result<std::string> update_system(std::chrono::milliseconds timeout = std::chrono::seconds(60));
  Result<int> available_port(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  Status report_instance(const std::string& stats_json,
                         std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // start_instance is ok when the instance runs afterwards, started now or already running:
  // a running instance is left alone, its config unchanged (stop it first to change it).
  Status start_instance(const std::string& service, const std::string& instance,
                        const std::vector<std::pair<std::string, std::string>>& config = {},
                        std::chrono::milliseconds timeout = std::chrono::seconds(60));
  Status stop_instance(const std::string& service, const std::string& instance,
                       std::chrono::milliseconds timeout = std::chrono::seconds(60));

  struct Impl;

 private:
  explicit Context(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Runs `fn` in a Context, as Baetyl's Run: SIGTERM and SIGINT are taken for wait(); an
// error `fn` returns, or an exception it throws, is logged. Returns the exit status for
// main: 0, or 1 on failure.
int run(const std::function<Status(Context&)>& fn);

}  // namespace hub::sdk
