// The Hub API's methods (docs/API.md): inspect, reload, start, stop, restart, port,
// report. Runs on hubd's main thread, the one that owns the modules.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <string>

#include "core/api/api_server.h"

namespace hub {

class ModuleManager;
class Supervisor;

class HubApi {
 public:
  // `bus_json` gives the broker's counters as a JSON object; `reload` reloads the modules
  // (as SIGHUP does) and returns Hub/reload's payload.
  HubApi(ModuleManager& modules, Supervisor& supervisor, std::function<std::string()> bus_json,
         std::function<std::string()> reload, std::string root)
      : modules_(modules),
        supervisor_(supervisor),
        bus_json_(std::move(bus_json)),
        reload_(std::move(reload)),
        root_(std::move(root)) {}

  // The request's result (JSON text), or why it was refused or failed, with its code.
  Result<std::string> handle(const ApiRequest& request);

 private:
  // ok, or forbidden with why.
  Status authorize(const ApiRequest& r) const;
  std::string inspect();
  Result<std::string> start(const ApiRequest& request);
  Result<std::string> stop(const ApiRequest& request);
  Result<std::string> report(const ApiRequest& request);

  ModuleManager& modules_;
  Supervisor& supervisor_;
  std::function<std::string()> bus_json_;
  std::function<std::string()> reload_;
  std::string root_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::map<std::string, std::string> stats_;  // instance -> its last report (a JSON object)
};

}  // namespace hub
