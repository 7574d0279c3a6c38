#include "console/service_timeline.h"

#include <array>

#include <yaml-cpp/yaml.h>

#include "bus/text.h"

namespace hub::console {
namespace {

constexpr std::array<std::string_view, 8> kEvents = {
    "starting", "started", "ready", "restarting", "exited", "stopping", "stopped", "failed"};

std::string_view event_of(std::string_view topic) {
  const auto slash = topic.find('/');
  return slash == std::string_view::npos ? std::string_view() : topic.substr(slash + 1);
}

}  // namespace

bool ServiceTimeline::is_lifecycle(std::string_view topic, std::string_view source) {
  if (source != "Hub") return false;
  const std::string_view event = event_of(topic);
  for (std::string_view e : kEvents)
    if (event == e) return true;
  return false;
}

void ServiceTimeline::record(std::string_view topic, std::string_view payload, uint64_t time_ns) {
  std::string name(topic.substr(0, topic.find('/')));
  Transition t;
  t.time_ms = time_ns / 1000000;
  t.event = std::string(event_of(topic));
  try {
    const YAML::Node p = YAML::Load(std::string(payload));
    if (p.IsMap()) {
      if (p["instance"] && p["instance"].IsScalar()) name = p["instance"].Scalar();
      if (p["reason"] && p["reason"].IsScalar()) t.reason = p["reason"].Scalar();
    }
  } catch (const YAML::Exception&) {
    // Not JSON: the transition is kept without its details.
  }
  std::lock_guard lock(mu_);
  auto it = services_.find(name);
  if (it == services_.end()) {
    if (services_.size() >= kMaxServices) return;
    it = services_.emplace(name, std::deque<Transition>()).first;
  }
  it->second.push_back(std::move(t));
  if (it->second.size() > kMaxTransitions) it->second.pop_front();
}

std::string ServiceTimeline::json() const {
  std::string out = "{\"services\":{";
  std::lock_guard lock(mu_);
  bool first_service = true;
  for (const auto& [name, transitions] : services_) {
    if (!first_service) out += ',';
    first_service = false;
    append_json_string(out, name);
    out += ":[";
    bool first = true;
    for (const Transition& t : transitions) {
      if (!first) out += ',';
      first = false;
      JsonObject o;
      o.add("t", static_cast<int64_t>(t.time_ms)).add("event", t.event);
      if (!t.reason.empty()) o.add("reason", t.reason);
      out += o.str();
    }
    out += ']';
  }
  return out + "}}";
}

}  // namespace hub::console
