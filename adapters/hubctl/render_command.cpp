#include "hubctl/render_command.h"

#include <iostream>

#include <yaml-cpp/yaml.h>

#include "bus/api_protocol.h"
#include "bus/text.h"

namespace hub::ctl {

int render(Hub& hub, const std::vector<std::string>& given) {
  // --strict anywhere before "--"; after it, every argument is MODULE, TEMPLATE or KEY=VALUE.
  std::vector<std::string> args;
  bool strict = false;
  bool options_end = false;
  for (const auto& a : given) {
    if (options_end || a.empty() || a[0] != '-') {
      args.push_back(a);
    } else if (a == "--") {
      options_end = true;
    } else if (a == "--strict") {
      strict = true;
    } else {
      return usage_error("unknown option '" + a + "' (a KEY=VALUE starting with '-' goes after --)",
                         "render");
    }
  }
  if (args.size() < 2) return usage_error("render needs a MODULE and a TEMPLATE", "render");
  JsonObject set;
  for (size_t i = 2; i < args.size(); ++i) {
    const size_t eq = args[i].find('=');
    if (eq == std::string::npos || eq == 0)
      return usage_error("expected KEY=VALUE, not '" + args[i] + "'", "render");
    const std::string key = args[i].substr(0, eq);
    const std::string value = args[i].substr(eq + 1);
    if (is_valid_json(value))
      set.add_raw(key, value);
    else
      set.add(key, value);
  }
  JsonObject request;
  request.add(api::kMethodField, api::kRender).add("name", args[0]).add("template", args[1]);
  if (args.size() > 2) request.add_raw("set", set.str());
  int exit = kOk;
  auto result = hub.call(request.str(), exit);
  if (!result) return exit;
  const YAML::Node node = YAML::Load(*result);
  std::string undefined;
  for (const auto& n : node["undefined"]) undefined += (undefined.empty() ? "" : ", ") + n.Scalar();
  if (hub.json()) {
    std::cout << *result << "\n";
  } else {
    std::cout << node["text"].Scalar() << std::flush;
  }
  if (undefined.empty()) return kOk;
  std::cerr << "hubctl: " << printable(args[1])
            << " uses names that are not defined (rendered empty): " << printable(undefined)
            << "\n";
  return strict ? kFailed : kOk;
}

}  // namespace hub::ctl
