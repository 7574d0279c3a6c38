// What the API shows of the modules (inspect's "modules"), as a copy the thread that owns
// the modules (hubd's control thread) publishes for other threads to read.
#pragma once

#include <cstdint>
#include <map>
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
  // Why it was rejected, failed or is down (disabled, a dependency); empty when up.
  std::string reason;
  bool enabled = true;                // false: `hubctl disable`d
  std::string build;                  // the first lines of info/build.txt (build_summary())
  std::vector<std::string> warnings;  // Module::warnings
};

// The first three lines of `build_info` (info/build.txt), each at most 200 bytes: what
// status and inspect show of it (NAME/loaded carries it whole).
std::string build_summary(const std::string& build_info);

struct ModulesView {
  std::vector<ModuleSummary> modules;  // the loaded ones in start order, then the rejected
  std::vector<std::string> up;         // ModuleManager::up()
};

// [{name, level, version, state, service, service_off, enabled (only when false),
// reason, build and warnings (only when not empty), restarts_total}]; a rejected module's
// version (when known) and service as its files say. A module in `service_failed` (its own
// instance has failed since it came up: module -> why) shows as failed, with that reason,
// unless a start or stop of it is under way. A loaded module has `restarts_total`: its
// instances' restarts since hubd started, from `restarts_total` (module -> count; absent: 0).
std::string modules_json(const std::vector<ModuleSummary>& modules,
                         const std::map<std::string, std::string>& service_failed = {},
                         const std::map<std::string, int64_t>& restarts_total = {});

}  // namespace hub
