#include "hubctl/status_table.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "bus/text.h"

namespace hub::ctl {
namespace {

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string text(const YAML::Node& map, const char* key) {
  const YAML::Node n = map[key];
  return n && n.IsScalar() ? n.Scalar() : "";
}

StatusRow instance_row(const YAML::Node& in) {
  StatusRow row;
  row.name = text(in, "instance");
  row.state = upper(text(in, "state"));
  row.healthy = row.state == "RUNNING";
  if (in["pid"]) {
    row.detail =
        "pid " + text(in, "pid") + ", uptime " + format_uptime(std::stoll(text(in, "uptime_ms")));
  } else if (!text(in, "reason").empty()) {  // why it failed says more than how it ended
    row.detail = text(in, "reason");
  } else if (!text(in, "last_exit").empty()) {
    row.detail = "last exit: " + text(in, "last_exit");
  }
  const std::string restarts = text(in, "restarts");
  if (!restarts.empty() && restarts != "0") row.detail += ", restarts " + restarts;
  row.pid = text(in, "pid");
  row.uptime_ms = in["pid"] ? text(in, "uptime_ms") : "";
  row.restarts = restarts;
  row.last_exit = text(in, "last_exit");
  row.reason = text(in, "reason");
  return row;
}

}  // namespace

std::string format_uptime(int64_t ms) {
  const int64_t s = ms / 1000;
  char clock[32];
  std::snprintf(clock, sizeof clock, "%lld:%02lld:%02lld", static_cast<long long>(s / 3600 % 24),
                static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
  const int64_t days = s / 86400;
  if (days == 0) return clock;
  return std::to_string(days) + (days == 1 ? " day, " : " days, ") + clock;
}

std::vector<StatusRow> status_rows(const YAML::Node& inspect,
                                   const std::vector<std::string>& names) {
  std::vector<StatusRow> rows;
  const YAML::Node instances = inspect["instances"];
  for (const auto& m : inspect["modules"]) {
    const std::string name = text(m, "name");
    const std::string state = text(m, "state");
    StatusRow row;
    row.name = name;
    row.state = upper(state);
    YAML::Node own;  // its default instance
    for (size_t i = 0; i < instances.size(); ++i) {
      if (text(instances[i], "instance") == name) own = instances[i];
    }
    if (state == "rejected") {
      row.detail = text(m, "reason");
    } else if (text(m, "service") == "true" && own) {  // its own instance tells more
      row = instance_row(own);
    } else if (text(m, "service") != "true") {
      row.healthy = state == "up";
      const std::string off = text(m, "service_off");
      if (state == "up") row.detail = off.empty() ? "(no service)" : "(service off: " + off + ")";
    }
    // Why it is down (its service's failure, a startup script, a dependency) says more
    // than how its process ended.
    if (state != "up" && state != "rejected" && !text(m, "reason").empty()) {
      row.detail = text(m, "reason");
    }
    if (!text(m, "reason").empty()) row.reason = text(m, "reason");
    if (text(m, "enabled") == "false")
      row = {name, "DISABLED", "", false, {}, {}, {}, {}, "disabled"};
    rows.push_back(row);
    for (const auto& in : instances) {  // its dynamic instances, after it
      if (text(in, "name") == name && text(in, "instance") != name) {
        rows.push_back(instance_row(in));
      }
    }
  }
  if (!names.empty()) {
    rows.erase(std::remove_if(rows.begin(), rows.end(),
                              [&](const StatusRow& r) {
                                return std::find(names.begin(), names.end(), r.name) == names.end();
                              }),
               rows.end());
  }
  return rows;
}

std::string format_rows(const std::vector<StatusRow>& rows) {
  // Names and reasons come from module trees: escaped, one row stays one line (bus/text.h).
  std::vector<StatusRow> shown;
  for (const auto& r : rows) {
    StatusRow p;
    p.healthy = r.healthy;
    append_printable(p.name, r.name);
    append_printable(p.state, r.state);
    append_printable(p.detail, r.detail);
    shown.push_back(std::move(p));
  }
  size_t name_width = 4, state_width = 8;
  for (const auto& r : shown) {
    name_width = std::max(name_width, r.name.size());
    state_width = std::max(state_width, r.state.size());
  }
  std::string out;
  for (const auto& r : shown) {
    std::string line = r.name + std::string(name_width - r.name.size() + 3, ' ') + r.state;
    if (!r.detail.empty()) line += std::string(state_width - r.state.size() + 3, ' ') + r.detail;
    out += line + "\n";
  }
  return out;
}

std::string format_details(const YAML::Node& inspect, const std::vector<std::string>& names) {
  std::string out;
  const auto line = [&out](const std::string& name, const char* what, const std::string& text) {
    std::string shown;
    append_printable(shown, name + " " + what + ": " + text);
    out += "  " + shown + "\n";
  };
  for (const auto& m : inspect["modules"]) {
    const std::string name = text(m, "name");
    if (std::find(names.begin(), names.end(), name) == names.end()) continue;
    const std::string build = text(m, "build");
    for (size_t from = 0; from < build.size();) {
      const size_t end = std::min(build.find('\n', from), build.size());
      line(name, "build", build.substr(from, end - from));
      from = end + 1;
    }
    for (const auto& warning : m["warnings"]) {
      if (warning.IsScalar()) line(name, "warning", warning.Scalar());
    }
  }
  return out;
}

}  // namespace hub::ctl
