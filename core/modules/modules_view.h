// What the API shows of the modules (inspect's "modules"), as a copy the thread that owns
// the modules (hubd's control thread) publishes for other threads to read.
#pragma once

#include <set>
#include <string>
#include <vector>

namespace hub {

struct ModuleSummary {
  std::string name;
  std::string level;
  std::string version;  // empty for a rejected module
  // up, failed, stopped, starting, stopping (a start or stop is under way) or rejected
  std::string state;
  bool service = false;     // it runs one
  std::string service_off;  // why a service it declares does not run
  std::string reason;       // why it was rejected
};

struct ModulesView {
  std::vector<ModuleSummary> modules;  // the loaded ones in start order, then the rejected
  std::vector<std::string> up;         // ModuleManager::up()
};

// [{name, level, version, state, service, service_off} | {name, level, state: rejected,
// reason}]. A module in `service_failed` (its own instance has failed since it came up)
// shows as failed unless a start or stop of it is under way.
std::string modules_json(const std::vector<ModuleSummary>& modules,
                         const std::set<std::string>& service_failed = {});

}  // namespace hub
