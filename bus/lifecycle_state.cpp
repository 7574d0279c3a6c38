#include "bus/lifecycle_state.h"

#include <utility>

#include "bus/text.h"
#include "bus/topic_owner.h"

namespace hub {
namespace {

// Separates the topic from the instance in a key (never part of a topic: wire.h).
constexpr char kKeySeparator = '\0';

// What each lifecycle event makes stale of its subject's retained state. A new process
// (started) ends what the last one said; readiness belongs to the process that started;
// a process that ended (exited, not retained itself) is neither started nor ready any
// more; failed and stopped end each other and any run. loaded and rejected of a module end
// each other (rejected only when no older version keeps running: kept_running). A newer
// shadowed replaces the last (one that lists no copy is not retained: it clears it).
// removed ends all of its module's state, every instance's (RetainedStore::drop_stale).
std::vector<std::string_view> stale_after(std::string_view event, bool kept_running) {
  if (event == "started") return {"stopped", "failed", "ready"};
  if (event == "ready") return {"stopped", "failed"};
  if (event == "exited") return {"started", "ready"};
  if (event == "failed") return {"started", "ready", "stopped"};
  if (event == "stopped") return {"started", "ready", "failed"};
  if (event == "loaded") return {"rejected"};
  if (event == "rejected" && !kept_running) return {"loaded"};
  if (event == "shadowed") return {"shadowed"};
  return {};
}

}  // namespace

bool is_lifecycle_topic(std::string_view topic) {
  const size_t slash = topic.find('/');
  return slash != std::string_view::npos && is_lifecycle_event(topic.substr(slash + 1));
}

std::optional<LifecycleFact> lifecycle_fact(std::string_view topic, std::string_view payload) {
  if (!is_lifecycle_topic(topic)) return std::nullopt;
  const size_t slash = topic.find('/');
  LifecycleFact fact;
  fact.module = std::string(topic.substr(0, slash));
  fact.event = std::string(topic.substr(slash + 1));
  bool kept_running = false;
  for (auto& [key, value] : json_top_level_scalars(payload)) {
    if (key == "instance") fact.instance = std::move(value);
    if (key == "kept_running") kept_running = value == "true";
  }
  if (fact.instance.empty()) fact.instance = fact.module;
  fact.supersedes = stale_after(fact.event, kept_running);
  return fact;
}

std::string lifecycle_key(std::string_view module, std::string_view event,
                          std::string_view instance) {
  std::string key;
  key.reserve(module.size() + event.size() + instance.size() + 2);
  key.append(module).append(1, '/').append(event).append(1, kKeySeparator).append(instance);
  return key;
}

std::string_view topic_of_key(std::string_view key) {
  return key.substr(0, key.find(kKeySeparator));
}

bool is_dynamic_instance(std::string_view module, std::string_view instance) {
  return instance != module;
}

}  // namespace hub
