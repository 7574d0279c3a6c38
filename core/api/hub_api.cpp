#include "core/api/hub_api.h"

#include <unistd.h>

#include <algorithm>
#include <iterator>
#include <set>

#include <spdlog/spdlog.h>

#include "bus/api_protocol.h"
#include "bus/credentials.h"
#include "bus/text.h"
#include "bus/topic_owner.h"
#include "core/api/api_fields.h"
#include "core/modules/module_config.h"
#include "core/modules/module_manager.h"
#include "core/services/supervisor.h"
#include "core/system/free_port.h"
#include "core/system/signal_name.h"
#include "core/templates/module_templates.h"

namespace hub {
namespace {

// `{}` when `s` is ok, else its error.
Result<std::string> empty_or(const Status& s) {
  if (!s) return s;
  return std::string("{}");
}

// "inspect, reload, ... or report"
std::string method_list() {
  std::string out;
  const size_t n = std::size(api::kMethods);
  for (size_t i = 0; i < n; ++i) {
    out += (i == 0 ? "" : i + 1 == n ? " or " : ", ") + std::string(api::kMethods[i]);
  }
  return out;
}

std::string string_field(const YAML::Node& body, const char* key) {
  const YAML::Node n = body[key];
  return n && n.IsScalar() ? n.Scalar() : "";
}

// A true boolean member ("replace": true, "all": true).
bool flag(const YAML::Node& body, const char* key) { return string_field(body, key) == "true"; }

}  // namespace

bool HubApi::answers_at_once(const std::string& method) {
  const bool known = std::find(std::begin(api::kMethods), std::end(api::kMethods), method) !=
                     std::end(api::kMethods);
  // signal changes no state hubd keeps: the supervisor's loop sends it, at once.
  return !known || method == api::kInspect || method == api::kPort || method == api::kReport ||
         method == api::kSignal;
}

void HubApi::serve(ApiRequest r, const ApiReply& reply) {
  spdlog::debug("api: {} from {}", r.method, r.identity);
  if (Status admitted = admit(r); !admitted) return reply(admitted);
  if (answers_at_once(r.method)) return reply(handle(r));
  ControlOperation op;
  op.what = "api: " + r.method + " from " + r.identity;
  op.deadline = r.deadline;
  op.dropped = [reply](const Status& why) { reply(why); };
  op.run = [this, reply, r = std::move(r)] {
    Result<std::string> result = [&]() -> Result<std::string> {
      try {
        return handle(r);
      } catch (const std::exception& e) {
        spdlog::error("api: {} from {}: {}", r.method, r.identity, e.what());
        return Status::error(e.what());
      }
    }();
    modules_.publish_view();
    control_.on_main([reply, result = std::move(result)] { reply(result); });
  };
  control_.submit(std::move(op));
}

// A request whose caller has given up is not carried out (it may have waited in the
// socket while hubd was busy).
Status HubApi::admit(const ApiRequest& r) const {
  if (Status fields = check_api_fields(r.method, r.body); !fields) return fields;
  if (r.deadline && std::chrono::system_clock::now() > *r.deadline) {
    spdlog::warn("api: {} from {} came after its caller's deadline: not done", r.method,
                 r.identity);
    return Status::timeout("the request waited past its deadline and was not carried out");
  }
  return authorize(r);
}

Result<std::string> HubApi::handle(const ApiRequest& r) {
  if (Status allowed = authorize(r); !allowed) return allowed;
  if (r.method == api::kInspect) return inspect();
  if (r.method == api::kReload)
    return flag(r.body, "dry_run") ? modules_.reload_preview() : reload_();
  if (r.method == api::kSignal) return signal(r);
  if (r.method == api::kStart) return start(r);
  if (r.method == api::kStop) return stop(r);
  if (r.method == api::kRestart) {
    if (r.body["instance"]) {
      return Status::bad_request(
          "restart takes a module \"name\" only (a dynamic instance "
          "is stopped and started again with its config)");
    }
    if (flag(r.body, "all")) return modules_.restart_every();
    const std::string name = string_field(r.body, "name");
    if (name.empty()) return Status::bad_request("expected \"name\": the module to restart");
    return modules_.start(name, /*replace=*/true);
  }
  if (r.method == api::kEnable || r.method == api::kDisable) {
    const std::string name = string_field(r.body, "name");
    if (name.empty()) return Status::bad_request("expected \"name\": the module to " + r.method);
    return modules_.set_enabled(name, r.method == api::kEnable);
  }
  if (r.method == api::kPort) {
    auto port = free_port();
    if (!port) return port.status();
    return JsonObject().add("port", static_cast<int64_t>(*port)).str();
  }
  if (r.method == api::kReport) return report(r);
  if (r.method == api::kRender) return render(r);
  return Status::error(Status::Code::kUnknownMethod,
                       "unknown method '" + r.method + "' (expected " + method_list() + ")");
}

// What a caller may do (README, "Security"): the administrator anything; a module's
// service or scripts may look (inspect, port), report its own stats, and start and stop
// dynamic instances of its own module; nothing that changes other modules or the Hub.
Status HubApi::authorize(const ApiRequest& r) const {
  if (r.identity == kAdminIdentity) return Status::ok();
  const std::string module(identity_module(r.identity));
  if (module.empty()) return Status::forbidden(r.identity + " may call nothing");
  if (r.method == api::kInspect || r.method == api::kPort || r.method == api::kReport)
    return Status::ok();
  if (r.method == api::kRender) {  // a module's config may hold secrets: its own only
    const std::string name = string_field(r.body, "name");
    if (name == module) return Status::ok();
    return Status::forbidden(r.identity + " may render only the templates of " + module +
                             ", not of " + name);
  }
  if (r.method == api::kStart || r.method == api::kStop) {
    if (r.body["all"]) {  // whatever else it names: every module is the administrator's
      return Status::forbidden(r.identity + " may not " + r.method +
                               " all (only the administrator starts and stops modules)");
    }
    const std::string name = string_field(r.body, "name");
    const std::string instance = string_field(r.body, "instance");
    const std::string target_module = !name.empty() ? name : instance.substr(0, instance.find('.'));
    if (!instance.empty() && target_module == module) return Status::ok();
    if (instance.empty()) {
      return Status::forbidden(r.identity + " may not " + r.method + " module " + name +
                               " (only the administrator starts and stops modules)");
    }
    return Status::forbidden(r.identity + " may " + r.method + " only instances of " + module +
                             ", not of " + target_module);
  }
  return Status::forbidden(r.identity + " may not call " + r.method + " (the administrator's)");
}

std::string HubApi::inspect() {
  std::string instances = "[";
  const auto all = supervisor_.status();
  std::lock_guard lock(stats_mu_);
  for (auto it = stats_.begin(); it != stats_.end();) {  // stats of runs that ended go
    const bool live = std::any_of(all.begin(), all.end(), [&](const InstanceStatus& s) {
      return s.instance == it->first && s.pid > 0;
    });
    it = live ? std::next(it) : stats_.erase(it);
  }
  std::map<std::string, std::string> service_failed;  // modules whose own instance gave up
  for (const auto& s : all) {
    if (s.instance == s.module && s.state == InstanceState::kFailed)
      service_failed[s.module] = s.reason;
  }
  for (const auto& s : all) {
    JsonObject one;
    one.add("name", s.module)
        .add("instance", s.instance)
        .add("state", state_name(s.state))
        .add("restarts", s.restarts)
        .add("restarts_total", s.restarts_total)
        .add("uptime_ms", s.uptime_ms)
        .add("last_exit", s.last_exit);
    if (!s.reason.empty()) one.add("reason", s.reason);
    if (s.pid > 0) one.add("pid", static_cast<int64_t>(s.pid));
    if (!s.ports.empty()) {
      JsonObject ports;
      for (const auto& [name, port] : s.ports) ports.add(name, static_cast<int64_t>(port));
      one.add_raw("ports", ports.str());
    }
    if (const auto it = stats_.find(s.instance); it != stats_.end())
      one.add_raw("stats", it->second);
    instances += (instances.size() > 1 ? "," : "") + one.str();
  }
  instances += "]";
  const auto uptime = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - started_);
  const std::string hub = JsonObject()
                              .add("pid", static_cast<int64_t>(::getpid()))
                              .add("version", HUB_VERSION)
                              .add("root", root_)
                              .add("uptime_ms", static_cast<int64_t>(uptime.count()))
                              .str();
  JsonObject result;
  result.add_raw("hub", hub)
      .add_raw("modules",
               modules_json(modules_.view().modules, service_failed, supervisor_.module_restarts()))
      .add_raw("instances", instances)
      .add_raw("bus", bus_json_());
  if (scripts_json_) result.add_raw("scripts", scripts_json_());
  return result.str();
}

// {"name": "NAME"} starts a module; with "instance": "X" (and an optional "config"
// object) a dynamic instance NAME.X of its service.
Result<std::string> HubApi::start(const ApiRequest& r) {
  if (flag(r.body, "all") && !r.body["name"]) return modules_.start_every();
  const std::string name = string_field(r.body, "name");
  if (name.empty()) return Status::bad_request("expected \"name\": the module to start");
  const std::string instance = string_field(r.body, "instance");
  const bool replace = flag(r.body, "replace");
  if (instance.empty()) return modules_.start(name, replace);
  const YAML::Node given = r.body["config"];
  if (given && !given.IsMap()) return Status::bad_request("\"config\" must be an object");
  // "timer.interval": "1s" sets timer: {interval: 1s}; keys merge whatever their order.
  YAML::Node config(YAML::NodeType::Map);
  for (const auto& entry : given ? given : YAML::Node(YAML::NodeType::Map)) {
    const std::string key = entry.first.Scalar();
    std::vector<std::string> parts;
    for (size_t from = 0;;) {
      const size_t dot = key.find('.', from);
      parts.push_back(key.substr(from, dot - from));
      if (dot == std::string::npos) break;
      from = dot + 1;
    }
    if (std::any_of(parts.begin(), parts.end(), [](const auto& p) { return p.empty(); })) {
      return Status::bad_request("config key '" + key + "' has an empty part");
    }
    YAML::Node nested = YAML::Clone(entry.second);
    for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
      YAML::Node level(YAML::NodeType::Map);
      level[*it] = nested;
      nested = level;
    }
    config = merge_yaml(config, nested);
  }
  return modules_.start_instance(name, instance, config, replace);
}

// {"name": "NAME"} stops a module; {"name": "NAME", "instance": "X"} or {"instance":
// "NAME.X"} a dynamic instance.
Result<std::string> HubApi::stop(const ApiRequest& r) {
  const std::string name = string_field(r.body, "name");
  std::string instance = string_field(r.body, "instance");
  if (!instance.empty() && instance.find('.') == std::string::npos) {
    if (name.empty()) return Status::bad_request("expected \"name\" with \"instance\"");
    instance = name + "." + instance;
  } else if (!instance.empty() && !name.empty() && instance.rfind(name + ".", 0) != 0) {
    return Status::bad_request("instance " + instance + " is not one of module " + name);
  }
  if (!instance.empty()) {
    const Status s = modules_.stop_instance(instance);
    if (s) {
      std::lock_guard lock(stats_mu_);
      stats_.erase(instance);
    }
    return empty_or(s);
  }
  if (name.empty() && flag(r.body, "all")) return modules_.stop_every();
  if (name.empty()) return Status::bad_request("expected \"name\": the module to stop");
  return empty_or(modules_.stop(name));
}

// {"signal": SIG, "name": NAME} signals the module's own instance; with "instance" (NAME.X,
// or X with "name") a dynamic one; {"signal": SIG, "all": true} every instance that has
// a process.
Result<std::string> HubApi::signal(const ApiRequest& r) {
  auto sig = parse_signal(string_field(r.body, "signal"));
  if (!sig) return sig.status();
  const std::string name = string_field(r.body, "name");
  std::string instance = string_field(r.body, "instance");
  if (!instance.empty() && instance.find('.') == std::string::npos && !name.empty())
    instance = name + "." + instance;
  std::vector<std::string> targets;
  if (flag(r.body, "all")) {
    for (const auto& s : supervisor_.status()) {
      if (s.pid > 0) targets.push_back(s.instance);
    }
  } else if (!instance.empty() || !name.empty()) {
    targets.push_back(instance.empty() ? name : instance);
  } else {
    return Status::bad_request(
        "expected \"name\" (or \"instance\", or \"all\": true): whom to signal");
  }
  std::string signalled = "[";
  for (const auto& target : targets) {
    auto pid = supervisor_.signal(target, *sig);
    if (!pid && pid.code() == Status::Code::kNotFound && targets.size() == 1) {
      const auto& modules = modules_.view().modules;
      const bool module = std::any_of(modules.begin(), modules.end(),
                                      [&](const auto& m) { return m.name == target; });
      if (module) return Status::bad_request("module " + target + " runs no service");
      return Status::not_found("no module or instance " + target);
    }
    if (!pid && targets.size() == 1) return pid.status();
    if (!pid) continue;  // all: one that ended meanwhile is no failure
    signalled += (signalled.size() > 1 ? "," : "") +
                 JsonObject().add("instance", target).add("pid", static_cast<int64_t>(*pid)).str();
  }
  return JsonObject().add("signal", signal_name(*sig)).add_raw("signalled", signalled + "]").str();
}

// {"stats": {...}} from an instance: kept, and shown by inspect.
Result<std::string> HubApi::report(const ApiRequest& r) {
  const YAML::Node stats = r.body["stats"];
  if (!stats || !stats.IsMap()) return Status::bad_request("expected \"stats\": an object");
  bool known = false;
  for (const auto& s : supervisor_.status()) known = known || s.instance == r.identity;
  if (!known) return Status::forbidden("only a service instance reports stats, not " + r.identity);
  std::lock_guard lock(stats_mu_);
  stats_[r.identity] = node_to_json(stats);
  return std::string("{}");
}

// {"name": MODULE, "template": PATH in the module, "set": {KEY: VALUE}}: the text, and the
// names it uses that the configuration does not define. On the control thread, which
// owns the modules; reads files and changes nothing.
Result<std::string> HubApi::render(const ApiRequest& r) {
  const std::string name = string_field(r.body, "name");
  const std::string path = string_field(r.body, "template");
  if (name.empty())
    return Status::bad_request("expected \"name\": the module whose template to render");
  if (path.empty())
    return Status::bad_request(
        "expected \"template\": a path in the module, as templates/x.conf.st");
  const auto& loaded = modules_.tree().loaded;
  const auto m = std::find_if(loaded.begin(), loaded.end(),
                              [&](const Module& each) { return each.name == name; });
  if (m == loaded.end()) return Status::not_found("no module " + name + " is loaded");
  const templates::HubFacts hub{root_, modules_.levels(), HUB_VERSION};
  auto rendered = templates::render_module_template(*m, path, r.body["set"], hub);
  if (!rendered) return rendered.status();
  return JsonObject()
      .add("text", rendered->text)
      .add_raw("undefined", json_string_array(rendered->undefined))
      .str();
}

}  // namespace hub
