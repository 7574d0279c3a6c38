// Hands the bus what each loaded module declares under service.yml `subscribe:` (its
// service's instances and its scripts may read that too). A module whose service does
// not run (needs_config unmet) still declares for its scripts.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/hub/running_bus.h"
#include "core/modules/module_loader.h"

namespace hub {

inline void declare_subscriptions(RunningBus& bus, const std::vector<Module>& loaded) {
  std::map<std::string, std::vector<std::string>> by_module;
  for (const auto& m : loaded) {
    if (m.service && !m.service->subscribe.empty()) by_module[m.name] = m.service->subscribe;
  }
  bus.declare_subscriptions(std::move(by_module));
}

}  // namespace hub
