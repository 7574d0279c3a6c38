#include "hubctl/process_commands.h"

#include <iomanip>
#include <iostream>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "bus/api_protocol.h"
#include "bus/text.h"

namespace hub::ctl {
namespace {

std::string text(const YAML::Node& map, const char* key) {
  const YAML::Node n = map[key];
  return n && n.IsScalar() ? n.Scalar() : "";
}

}  // namespace

int pid(Hub& hub, const std::vector<std::string>& args) {
  if (args.size() > 1) return usage_error("pid takes at most one NAME", "pid");
  int exit = kOk;
  const auto result = hub.call(request_json(api::kInspect), exit);
  if (!result) return exit;
  const YAML::Node node = YAML::Load(*result);
  if (args.empty()) {
    const std::string hubd = text(node["hub"], "pid");
    std::cout << (hub.json() ? JsonObject().add_raw("pid", hubd).str() : hubd) << "\n";
    return kOk;
  }
  const std::string& name = args[0];
  std::string all_json = "[";
  bool found = false;
  for (const auto& in : node["instances"]) {
    const std::string instance = text(in, "instance");
    if (name != "all" && instance != name) continue;
    found = true;
    const std::string pid = in["pid"] ? text(in, "pid") : "0";
    if (name == "all") {
      if (hub.json()) {
        all_json += (all_json.size() > 1 ? "," : "") +
                    JsonObject().add("instance", instance).add_raw("pid", pid).str();
      } else {
        std::cout << printable(instance) << " " << pid << "\n";
      }
      continue;
    }
    std::cout << (hub.json() ? JsonObject().add("instance", instance).add_raw("pid", pid).str()
                             : pid)
              << "\n";
    return pid == "0" ? kFailed : kOk;
  }
  if (name == "all") {
    if (hub.json()) std::cout << all_json << "]\n";
    return kOk;
  }
  if (!found) {
    // A module without a service has no process: 0, as supervisorctl says of a stopped one.
    for (const auto& m : node["modules"]) {
      if (text(m, "name") == name) {
        std::cout << (hub.json() ? JsonObject().add("instance", name).add_raw("pid", "0").str()
                                 : "0")
                  << "\n";
        return kFailed;
      }
    }
  }
  std::cerr << "hubctl: no module or instance " << printable(name) << "\n";
  return kNotFound;
}

int avail(Hub& hub, const std::vector<std::string>& args) {
  if (!args.empty()) return usage_error("avail takes no arguments", "avail");
  int exit = kOk;
  const auto result = hub.call(request_json(api::kInspect), exit);
  if (!result) return exit;
  const YAML::Node modules = YAML::Load(*result)["modules"];
  if (hub.json()) {
    std::string all = "[";
    for (const auto& m : modules) {
      JsonObject one;
      one.add("name", text(m, "name"))
          .add("level", text(m, "level"))
          .add("version", text(m, "version"))
          .add("state", text(m, "state"))
          .add("in_use", text(m, "state") == "up")
          .add("enabled", text(m, "enabled") != "false");
      all += (all.size() > 1 ? "," : "") + one.str();
    }
    std::cout << all << "]\n";
    return kOk;
  }
  size_t width = 0;
  for (const auto& m : modules) width = std::max(width, printable(text(m, "name")).size());
  for (const auto& m : modules) {
    const std::string state = text(m, "state");
    const char* use = state == "rejected" ? "rejected" : state == "up" ? "in use" : "avail";
    const char* enabled = text(m, "enabled") == "false" ? "disabled" : "enabled";
    std::ostringstream line;
    line << std::left << std::setw(static_cast<int>(width)) << printable(text(m, "name")) << "  "
         << std::setw(8) << use << "  " << std::setw(8) << enabled << "  " << std::setw(6)
         << printable(text(m, "level")) << "  " << printable(text(m, "version"));
    std::string out = line.str();
    while (!out.empty() && out.back() == ' ') out.pop_back();
    std::cout << out << "\n";
  }
  return kOk;
}

int signal_command(Hub& hub, const std::vector<std::string>& args) {
  if (args.size() != 2) return usage_error("signal needs SIG and NAME", "signal");
  const std::string& target = args[1];
  JsonObject request;
  request.add(api::kMethodField, api::kSignal).add("signal", args[0]);
  if (target == "all") {
    request.add("all", true);
  } else {
    const size_t dot = target.find('.');
    request.add("name", target.substr(0, dot));
    if (dot != std::string::npos) request.add("instance", target);
  }
  int exit = kOk;
  const auto result = hub.call(request.str(), exit);
  if (!result) return exit;
  if (hub.json()) {
    std::cout << *result << "\n";
    return kOk;
  }
  const YAML::Node node = YAML::Load(*result);
  for (const auto& s : node["signalled"]) {
    std::cout << "signalled " << printable(text(s, "instance")) << " (pid " << text(s, "pid")
              << ") with " << printable(text(node, "signal")) << "\n";
  }
  return kOk;
}

}  // namespace hub::ctl
