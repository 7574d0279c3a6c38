#include "core/modules/modules_view.h"

#include "bus/text.h"

namespace hub {

std::string modules_json(const std::vector<ModuleSummary>& modules,
                         const std::map<std::string, std::string>& service_failed,
                         const std::map<std::string, int64_t>& restarts_total) {
  std::string out = "[";
  for (const auto& m : modules) {
    JsonObject one;
    one.add("name", m.name).add("level", m.level);
    if (m.state == "rejected") {
      one.add("state", m.state).add("reason", m.reason);
      if (!m.version.empty()) one.add("version", m.version);
      one.add("service", m.service);
    } else {
      const bool settled = m.state != "starting" && m.state != "stopping";
      const auto failed = settled ? service_failed.find(m.name) : service_failed.end();
      const bool service_down = failed != service_failed.end();
      one.add("version", m.version)
          .add("state", service_down ? "failed" : m.state)
          .add("service", m.service);
      if (!m.service_off.empty()) one.add("service_off", m.service_off);
      if (!m.enabled) one.add("enabled", false);
      const std::string& reason =
          service_down && !failed->second.empty() ? failed->second : m.reason;
      if (!reason.empty()) one.add("reason", reason);
      const auto restarts = restarts_total.find(m.name);
      one.add("restarts_total", restarts == restarts_total.end() ? int64_t{0} : restarts->second);
    }
    out += (out.size() > 1 ? "," : "") + one.str();
  }
  return out + "]";
}

}  // namespace hub
