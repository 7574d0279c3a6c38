// The Hub's lifecycle events (MODULE/EVENT, EVENT one of topic_owner.h's lifecycle events)
// as state in the retained store: which subject (module and instance) an event is about,
// and which of that subject's retained events a newer one makes stale, so that a
// subscriber joining late reads one picture per instance that does not contradict itself.
// docs/PROTOCOL.md, section 7, states the rules.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hub {

// A lifecycle event of the Hub, about one subject.
struct LifecycleFact {
  std::string module;    // MODULE of the topic
  std::string event;     // EVENT of the topic ("started")
  std::string instance;  // the payload's "instance"; the module itself when it has none
  // The subject's retained events this one makes stale (EVENT names), itself excluded.
  std::vector<std::string_view> supersedes;
};

// The fact `topic` with `payload` states, when `topic` is MODULE/EVENT with EVENT a
// lifecycle event; nullopt for any other topic. A module's own events (no "instance")
// and those of its own instance (NAME) are about one subject: the module.
std::optional<LifecycleFact> lifecycle_fact(std::string_view topic, std::string_view payload);

// True when `topic` is MODULE/EVENT with EVENT a lifecycle event (the Hub's alone).
bool is_lifecycle_topic(std::string_view topic);

// The key the retained store keeps a lifecycle fact under: one per topic and instance.
std::string lifecycle_key(std::string_view module, std::string_view event,
                          std::string_view instance);
// The topic part of a retained store key (the key itself for any other topic).
std::string_view topic_of_key(std::string_view key);

// True when `instance` of `module` is a dynamic instance (NAME.X), not the module's own.
bool is_dynamic_instance(std::string_view module, std::string_view instance);

}  // namespace hub
