#include "core/hub_api.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <set>

#include <spdlog/spdlog.h>

#include "bus/credentials.h"
#include "bus/text.h"
#include "bus/topic_owner.h"
#include "core/module_config.h"
#include "core/module_manager.h"
#include "core/supervisor.h"

namespace hub {
namespace {

// "code: message" from the manager, as an API error.
std::string error_of(const Status& s) {
  const std::string& m = s.message();
  const size_t colon = m.find(": ");
  if (colon == std::string::npos) return api_error("failed", m);
  return api_error(m.substr(0, colon), m.substr(colon + 2));
}

std::string string_field(const YAML::Node& body, const char* key) {
  const YAML::Node n = body[key];
  return n && n.IsScalar() ? n.Scalar() : "";
}

// A port on 127.0.0.1 free at the moment of asking (the kernel picks it).
Result<int> free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::error(std::string("socket: ") + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  const int err = errno;
  ::close(fd);
  if (!ok) return Status::error(std::string("bind: ") + std::strerror(err));
  return static_cast<int>(ntohs(addr.sin_port));
}

}  // namespace

std::string HubApi::handle(const ApiRequest& r) {
  spdlog::debug("api: {} from {}", r.method, r.identity);
  // A request whose caller has given up is not carried out (it may have waited while hubd
  // was busy starting or stopping modules).
  if (const YAML::Node deadline = r.body["deadline_ms"]) {
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::system_clock::now().time_since_epoch());
    if (deadline.IsScalar() && now.count() > deadline.as<int64_t>(INT64_MAX)) {
      spdlog::warn("api: {} from {} came after its caller's deadline: not done", r.method,
                   r.identity);
      return api_error("timeout", "the request waited past its deadline and was not carried out");
    }
  }
  if (auto refusal = authorize(r)) return api_error("forbidden", *refusal);
  if (r.method == "inspect") return api_reply(inspect());
  if (r.method == "reload") return api_reply(modules_.reload());
  if (r.method == "start") return start(r);
  if (r.method == "stop") return stop(r);
  if (r.method == "restart") {
    if (r.body["instance"]) {
      return api_error("bad_request",
                       "restart takes a module \"name\" only (a dynamic instance "
                       "is stopped and started again with its config)");
    }
    const std::string stopped = stop(r);
    if (stopped.rfind("{\"ok\":true", 0) != 0) return stopped;
    return start(r);
  }
  if (r.method == "port") {
    auto port = free_port();
    if (!port) return api_error("failed", port.error());
    return api_reply(JsonObject().add("port", static_cast<int64_t>(*port)).str());
  }
  if (r.method == "report") return report(r);
  return api_error("unknown_method",
                   "unknown method '" + r.method +
                       "' (expected inspect, reload, start, stop, restart, port or report)");
}

// What a caller may do (README, "Security"): the administrator anything; a module's
// service or scripts may look (inspect, port), report its own stats, and start and stop
// dynamic instances of its own module; nothing that changes other modules or the Hub.
std::optional<std::string> HubApi::authorize(const ApiRequest& r) const {
  if (r.identity == kAdminIdentity) return std::nullopt;
  const std::string module(identity_module(r.identity));
  if (module.empty()) return r.identity + " may call nothing";
  if (r.method == "inspect" || r.method == "port" || r.method == "report") return std::nullopt;
  if (r.method == "start" || r.method == "stop") {
    const std::string name = string_field(r.body, "name");
    const std::string instance = string_field(r.body, "instance");
    const std::string target_module = !name.empty() ? name : instance.substr(0, instance.find('.'));
    if (!instance.empty() && target_module == module) return std::nullopt;
    if (instance.empty()) {
      return r.identity + " may not " + r.method + " module " + name +
             " (only the administrator starts and stops modules)";
    }
    return r.identity + " may " + r.method + " only instances of " + module + ", not of " +
           target_module;
  }
  return r.identity + " may not call " + r.method + " (the administrator's)";
}

std::string HubApi::inspect() {
  std::string instances = "[";
  const auto all = supervisor_.status();
  for (auto it = stats_.begin(); it != stats_.end();) {  // stats of runs that ended go
    const bool live = std::any_of(all.begin(), all.end(), [&](const InstanceStatus& s) {
      return s.instance == it->first && s.pid > 0;
    });
    it = live ? std::next(it) : stats_.erase(it);
  }
  std::set<std::string> service_failed;  // modules whose own instance gave up
  for (const auto& s : all) {
    if (s.instance == s.module && s.state == InstanceState::kFailed)
      service_failed.insert(s.module);
  }
  for (const auto& s : all) {
    JsonObject one;
    one.add("name", s.module)
        .add("instance", s.instance)
        .add("state", state_name(s.state))
        .add("restarts", s.restarts)
        .add("uptime_ms", s.uptime_ms)
        .add("last_exit", s.last_exit);
    if (s.pid > 0) one.add("pid", static_cast<int64_t>(s.pid));
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
  return JsonObject()
      .add_raw("hub", hub)
      .add_raw("modules", modules_.modules_json(service_failed))
      .add_raw("instances", instances)
      .add_raw("bus", bus_json_())
      .str();
}

// {"name": "NAME"} starts a module; with "instance": "X" (and an optional "config"
// object) a dynamic instance NAME.X of its service.
std::string HubApi::start(const ApiRequest& r) {
  const std::string name = string_field(r.body, "name");
  if (name.empty()) return api_error("bad_request", "expected \"name\": the module to start");
  const std::string instance = string_field(r.body, "instance");
  if (instance.empty()) {
    const Status s = modules_.start(name);
    return s ? api_reply("{}") : error_of(s);
  }
  const YAML::Node given = r.body["config"];
  if (given && !given.IsMap()) return api_error("bad_request", "\"config\" must be an object");
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
      return api_error("bad_request", "config key '" + key + "' has an empty part");
    }
    YAML::Node nested = YAML::Clone(entry.second);
    for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
      YAML::Node level(YAML::NodeType::Map);
      level[*it] = nested;
      nested = level;
    }
    config = merge_yaml(config, nested);
  }
  const Status s = modules_.start_instance(name, instance, config);
  return s ? api_reply(JsonObject().add("instance", name + "." + instance).str()) : error_of(s);
}

// {"name": "NAME"} stops a module; {"name": "NAME", "instance": "X"} or {"instance":
// "NAME.X"} a dynamic instance.
std::string HubApi::stop(const ApiRequest& r) {
  const std::string name = string_field(r.body, "name");
  std::string instance = string_field(r.body, "instance");
  if (!instance.empty() && instance.find('.') == std::string::npos) {
    if (name.empty()) return api_error("bad_request", "expected \"name\" with \"instance\"");
    instance = name + "." + instance;
  } else if (!instance.empty() && !name.empty() && instance.rfind(name + ".", 0) != 0) {
    return api_error("bad_request", "instance " + instance + " is not one of module " + name);
  }
  if (!instance.empty()) {
    const Status s = modules_.stop_instance(instance);
    if (s) stats_.erase(instance);
    return s ? api_reply("{}") : error_of(s);
  }
  if (name.empty()) return api_error("bad_request", "expected \"name\": the module to stop");
  const Status s = modules_.stop(name);
  return s ? api_reply("{}") : error_of(s);
}

// {"stats": {...}} from an instance: kept, and shown by inspect.
std::string HubApi::report(const ApiRequest& r) {
  const YAML::Node stats = r.body["stats"];
  if (!stats || !stats.IsMap()) return api_error("bad_request", "expected \"stats\": an object");
  bool known = false;
  for (const auto& s : supervisor_.status()) known = known || s.instance == r.identity;
  if (!known)
    return api_error("forbidden", "only a service instance reports stats, not " + r.identity);
  stats_[r.identity] = node_to_json(stats);
  return api_reply("{}");
}

}  // namespace hub
