// The Hub API's methods (docs/API.md): inspect, reload, start, stop, restart, port,
// report, enable, disable, signal, render. serve() runs on hubd's main thread and answers
// what only reads (inspect, port, report) and signal (the supervisor's loop sends it) at
// once; every other method changes what runs (or, reload's dry_run and render, reads the
// modules) and is queued for the control thread (control_thread.h), which owns the
// modules: handle() runs there and its answer goes back to the main thread. So the API
// never waits on a start or a stop.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>

#include "core/api/api_server.h"
#include "core/hub/control_thread.h"

namespace hub {

class ModuleManager;
class Supervisor;

class HubApi {
 public:
  // `bus_json` gives the broker's counters as a JSON object; `reload` reloads the modules
  // (as SIGHUP does) and returns Hub/reload's payload.
  // `reload` runs on the control thread.
  HubApi(ModuleManager& modules, Supervisor& supervisor, ControlThread& control,
         std::function<std::string()> bus_json, std::function<std::string()> reload,
         std::string root)
      : modules_(modules),
        supervisor_(supervisor),
        control_(control),
        bus_json_(std::move(bus_json)),
        reload_(std::move(reload)),
        root_(std::move(root)) {}

  // inspect's `scripts` (the dispatcher's stats_json()); left out until set.
  void set_scripts_json(std::function<std::string()> scripts_json) {
    scripts_json_ = std::move(scripts_json);
  }

  // Answers `request` through `reply`: at once, or once its operation has run on the
  // control thread (the server bounds the wait by the request's deadline). An operation
  // whose deadline passes before it begins is not carried out.
  void serve(ApiRequest request, const ApiReply& reply);
  // The request's result (JSON text), or why it was refused or failed, with its code. On
  // the control thread for a method that changes what runs.
  Result<std::string> handle(const ApiRequest& request);

 private:
  // Whether `method` is answered on the main thread (it changes nothing that runs).
  static bool answers_at_once(const std::string& method);
  // ok, or why the request is refused before anything is done: a deadline that has
  // passed (timeout), a caller that may not (forbidden).
  Status admit(const ApiRequest& r) const;
  // ok, or forbidden with why.
  Status authorize(const ApiRequest& r) const;
  std::string inspect();
  Result<std::string> start(const ApiRequest& request);
  Result<std::string> stop(const ApiRequest& request);
  Result<std::string> report(const ApiRequest& request);
  Result<std::string> signal(const ApiRequest& request);
  Result<std::string> render(const ApiRequest& request);

  ModuleManager& modules_;
  Supervisor& supervisor_;
  ControlThread& control_;
  std::function<std::string()> bus_json_;
  std::function<std::string()> reload_;
  std::function<std::string()> scripts_json_;
  std::string root_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::mutex stats_mu_;
  std::map<std::string, std::string> stats_;  // instance -> its last report; guarded by stats_mu_
};

}  // namespace hub
