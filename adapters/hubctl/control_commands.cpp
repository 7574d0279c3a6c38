#include "hubctl/control_commands.h"

#include <algorithm>
#include <iostream>
#include <map>

#include <yaml-cpp/yaml.h>

#include "bus/api_protocol.h"
#include "bus/text.h"
#include "hubctl/status_table.h"

namespace hub::ctl {
namespace {

// [{"name", "state", "detail", "healthy"}...]
// [{name, state, detail, healthy, and pid, uptime_ms, restarts (numbers), last_exit,
// reason where inspect has them}]
std::string rows_json(const std::vector<StatusRow>& rows) {
  std::string out = "[";
  for (const auto& r : rows) {
    JsonObject row;
    row.add("name", r.name).add("state", r.state).add("detail", r.detail).add("healthy", r.healthy);
    for (const auto& [key, number] :
         {std::pair{"pid", &r.pid}, std::pair{"uptime_ms", &r.uptime_ms},
          std::pair{"restarts", &r.restarts}}) {
      if (!number->empty() && is_valid_json(*number)) row.add_raw(key, *number);
    }
    if (!r.last_exit.empty()) row.add("last_exit", r.last_exit);
    if (!r.reason.empty()) row.add("reason", r.reason);
    out += (out.size() > 1 ? "," : "") + row.str();
  }
  return out + "]";
}

// "a, b, c"
std::string listed(const YAML::Node& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + printable(n.Scalar());
  return out;
}

// start|stop|restart all: a line per module, then one per failure with its reason.
int print_every(const std::string& answer, bool quiet) {
  const YAML::Node node = YAML::Load(answer);
  const bool failed = node["failed"] && node["failed"].size() > 0;
  if (quiet) return failed ? kFailed : kOk;
  for (const char* done : {"stopped", "started"}) {
    if (node[done] && node[done].size() > 0) std::cout << done << " " << listed(node[done]) << "\n";
  }
  for (const auto& f : node["failed"]) {
    std::cout << "failed " << printable(f["name"].Scalar()) << ": "
              << printable(f["reason"].Scalar()) << "\n";
  }
  return node["failed"] && node["failed"].size() > 0 ? kFailed : kOk;
}

// The reason inspect gives for each module that has one.
std::map<std::string, std::string> module_reasons(Hub& hub) {
  std::map<std::string, std::string> reasons;
  int exit = kOk;
  auto result = hub.call(request_json(api::kInspect), exit);
  if (!result) return reasons;
  for (const auto& m : YAML::Load(*result)["modules"]) {
    if (m["reason"]) reasons[m["name"].Scalar()] = m["reason"].Scalar();
  }
  return reasons;
}

}  // namespace

int status(Hub& hub, const std::vector<std::string>& names) {
  int exit = kOk;
  auto result = hub.call(request_json(api::kInspect), exit);
  if (!result) return exit;
  const auto rows = status_rows(YAML::Load(*result), names);
  for (const auto& name : names) {
    if (std::none_of(rows.begin(), rows.end(), [&](const auto& r) { return r.name == name; })) {
      std::cerr << "hubctl: no module or instance " << name << "\n";
      return kNotFound;
    }
  }
  if (hub.json()) {
    std::cout << rows_json(rows) << "\n";
  } else {
    std::cout << format_rows(rows);
    if (!names.empty()) std::cout << format_details(YAML::Load(*result), names);
  }
  const bool healthy =
      std::all_of(rows.begin(), rows.end(), [](const auto& r) { return r.healthy; });
  return healthy ? kOk : kFailed;
}

int inspect(Hub& hub, const std::vector<std::string>& args) {
  if (!args.empty()) return usage_error("inspect takes only --json", "inspect");
  int exit = kOk;
  auto result = hub.call(request_json(api::kInspect), exit);
  if (!result) return exit;
  if (hub.json()) {
    std::cout << *result << "\n";
    return kOk;
  }
  const YAML::Node node = YAML::Load(*result);
  const YAML::Node h = node["hub"];
  std::cout << "hub " << h["version"].Scalar() << " on " << printable(h["root"].Scalar())
            << ", pid " << h["pid"].Scalar() << ", up "
            << format_uptime(h["uptime_ms"].as<int64_t>()) << "\n\n";
  std::cout << format_rows(status_rows(node, {}));
  for (const auto& in : node["instances"]) {
    if (in["stats"]) {
      YAML::Emitter stats;
      stats << YAML::Flow << in["stats"];
      std::cout << printable("stats of " + in["instance"].Scalar() + ": " + stats.c_str()) << "\n";
    }
  }
  const YAML::Node bus = node["bus"];
  std::cout << "\nbus: " << bus["events"].Scalar() << " events (last seq "
            << bus["last_seq"].Scalar() << "), " << bus["malformed"].Scalar() << " malformed, "
            << bus["too_large"].Scalar() << " too large, " << bus["auth_failures"].Scalar()
            << " authentication failures, " << bus["forbidden"].Scalar() << " forbidden";
  const auto by_identity = [](const YAML::Node& counts) {
    std::string by;
    for (const auto& entry : counts) {
      by +=
          (by.empty() ? "" : ", ") + printable(entry.first.Scalar()) + " " + entry.second.Scalar();
    }
    return by.empty() ? by : " (" + by + ")";
  };
  std::cout << by_identity(bus["forbidden_by"]) << "\n";
  if (bus["retained_topics"]) {
    std::cout << "retained: " << bus["retained_topics"].Scalar() << " topics, "
              << bus["retained_bytes"].Scalar() << " bytes; " << bus["retained_refused"].Scalar()
              << " not retained" << by_identity(bus["retained_refused_by"]) << "\n";
  }
  return kOk;
}

int start_or_stop(Hub& hub, const std::string& method, const std::vector<std::string>& given) {
  std::vector<std::string> args = given;
  const bool replace = method == "start" && !args.empty() && args[0] == "--replace";
  if (replace) args.erase(args.begin());
  if (args.empty()) return usage_error(method + " needs a NAME", method);
  const std::string& target = args[0];
  JsonObject request;
  request.add(api::kMethodField, method);
  int exit = kOk;
  if (target == "all") {
    if (args.size() > 1 || replace) return usage_error(method + " all takes nothing more", method);
    auto result = hub.call(request.add("all", true).str(), exit);
    if (result && hub.json()) std::cout << *result << "\n";
    return result ? print_every(*result, hub.json()) : exit;
  }
  const size_t dot = target.find('.');
  request.add("name", target.substr(0, dot));
  if (dot != std::string::npos) request.add("instance", target.substr(dot + 1));
  if (replace) request.add("replace", true);
  JsonObject config;
  for (size_t i = 1; i < args.size(); ++i) {
    const size_t eq = args[i].find('=');
    if (method != "start" || dot == std::string::npos || eq == std::string::npos || eq == 0)
      return usage_error("unexpected '" + args[i] + "'", method);
    config.add(args[i].substr(0, eq), args[i].substr(eq + 1));
  }
  if (method == "restart" && dot != std::string::npos)
    return usage_error("restart takes a module NAME", method);
  if (args.size() > 1) request.add_raw("config", config.str());
  auto result = hub.call(request.str(), exit);
  if (!result) return exit;
  if (hub.json()) {
    std::cout << *result << "\n";
  } else if (YAML::Load(*result)["already"]) {
    std::cout << target << " is already running (--replace starts it afresh)\n";
  } else {
    std::cout << method << (method == "stop" ? "ped " : "ed ") << target << "\n";
  }
  return exit;
}

int enable_or_disable(Hub& hub, const std::string& method, const std::vector<std::string>& args) {
  if (args.size() != 1) return usage_error(method + " needs one NAME", method);
  int exit = kOk;
  auto result =
      hub.call(JsonObject().add(api::kMethodField, method).add("name", args[0]).str(), exit);
  if (!result) return exit;
  if (hub.json()) {
    std::cout << *result << "\n";
    return kOk;
  }
  const YAML::Node node = YAML::Load(*result);
  std::cout << method << "d " << args[0];
  if (node["reason"]) std::cout << " (not started: " << printable(node["reason"].Scalar()) << ")";
  std::cout << "\n";
  return kOk;
}

// A line per kind of change, with the reason of each module rejected, kept or failed.
// Exit 1 when a module was rejected or failed. `dry_run` (reread): what a reload would
// do, from the hub's reload plan, nothing done; the rejected ones' reasons come with it.
int reload(Hub& hub, const std::vector<std::string>& args, bool dry_run) {
  const std::string command = dry_run ? "reread" : "reload";
  if (!args.empty()) return usage_error(command + " takes only --json", command);
  int exit = kOk;
  JsonObject request;
  request.add(api::kMethodField, api::kReload);
  if (dry_run) request.add("dry_run", true);
  auto result = hub.call(request.str(), exit);
  if (!result) return exit;
  const YAML::Node node = YAML::Load(*result);
  const bool troubled = (node["rejected"] && node["rejected"].size() > 0) ||
                        (node["failed"] && node["failed"].size() > 0) || node["error"];
  if (hub.json()) {
    std::cout << *result << "\n";
    return troubled ? kFailed : kOk;
  }
  if (node["error"]) {
    std::cout << command << " failed: " << printable(node["error"].Scalar())
              << "\n(every module keeps running as it was)\n";
    return kFailed;
  }
  std::map<std::string, std::string> reasons;
  if (dry_run) {
    for (const auto& r : node["reasons"]) reasons[r.first.Scalar()] = r.second.Scalar();
  } else if (troubled) {
    reasons = module_reasons(hub);
  }
  bool any = false;
  const char* const kinds[][2] = {{"added", "would add"},
                                  {"removed", "would remove"},
                                  {"changed", "would restart"},
                                  {"unchanged", "unchanged"}};
  for (const auto& [kind, would] : kinds) {
    if (node[kind].size() == 0) continue;
    std::cout << (dry_run ? would : kind) << ": " << listed(node[kind]) << "\n";
    any = true;
  }
  for (const auto& k : node["kept"]) {
    std::cout << (dry_run ? "would keep running: " : "kept running: ")
              << printable(k["name"].Scalar())
              << " (its new definition is rejected: " << printable(k["reason"].Scalar()) << ")\n";
    any = true;
  }
  for (const char* kind : {"rejected", "failed"}) {
    for (const auto& n : node[kind]) {
      const auto reason = reasons.find(n.Scalar());
      std::cout << kind << ": " << printable(n.Scalar())
                << (reason == reasons.end() ? "" : ": " + printable(reason->second)) << "\n";
      any = true;
    }
  }
  if (!any) std::cout << (dry_run ? "nothing would change\n" : "nothing to reload\n");
  return troubled ? kFailed : kOk;
}

}  // namespace hub::ctl
