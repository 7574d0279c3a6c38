#include "core/modules/modules_view.h"

#include <algorithm>

#include "bus/text.h"

namespace hub {

std::string build_summary(const std::string& build_info) {
  constexpr size_t kLines = 3, kWidth = 200;
  std::string out;
  size_t from = 0;
  for (size_t line = 0; line < kLines && from < build_info.size(); ++line) {
    const size_t end = std::min(build_info.find('\n', from), build_info.size());
    std::string text = build_info.substr(from, std::min(end - from, kWidth));
    if (!text.empty() && text.back() == '\r') text.pop_back();
    out += (line > 0 ? "\n" : "") + text;
    from = end + 1;
  }
  return out;
}

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
    if (!m.build.empty()) one.add("build", m.build);
    if (!m.warnings.empty()) one.add_raw("warnings", json_string_array(m.warnings));
    out += (out.size() > 1 ? "," : "") + one.str();
  }
  return out + "]";
}

}  // namespace hub
