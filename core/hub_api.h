// The Hub API's methods (docs/API.md): inspect, reload, start, stop, restart, port,
// report. Runs on hubd's main thread, the one that owns the modules.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "core/api_server.h"

namespace hub {

class ModuleManager;
class Supervisor;

class HubApi {
 public:
  // `bus_json` gives the broker's counters as a JSON object.
  HubApi(ModuleManager& modules, Supervisor& supervisor, std::function<std::string()> bus_json,
         std::string root)
      : modules_(modules),
        supervisor_(supervisor),
        bus_json_(std::move(bus_json)),
        root_(std::move(root)) {}

  std::string handle(const ApiRequest& request);

 private:
  std::optional<std::string> authorize(const ApiRequest& r) const;
  std::string inspect();
  std::string start(const ApiRequest& request);
  std::string stop(const ApiRequest& request);
  std::string report(const ApiRequest& request);

  ModuleManager& modules_;
  Supervisor& supervisor_;
  std::function<std::string()> bus_json_;
  std::string root_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::map<std::string, std::string> stats_;  // instance -> its last report (a JSON object)
};

}  // namespace hub
