#include "core/modules/modules_view.h"

#include "bus/text.h"

namespace hub {

std::string modules_json(const std::vector<ModuleSummary>& modules,
                         const std::set<std::string>& service_failed) {
  std::string out = "[";
  for (const auto& m : modules) {
    JsonObject one;
    one.add("name", m.name).add("level", m.level);
    if (m.state == "rejected") {
      one.add("state", m.state).add("reason", m.reason);
    } else {
      const bool settled = m.state != "starting" && m.state != "stopping";
      one.add("version", m.version)
          .add("state", settled && service_failed.count(m.name) != 0 ? "failed" : m.state)
          .add("service", m.service);
      if (!m.service_off.empty()) one.add("service_off", m.service_off);
    }
    out += (out.size() > 1 ? "," : "") + one.str();
  }
  return out + "]";
}

}  // namespace hub
