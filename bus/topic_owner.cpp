#include "bus/topic_owner.h"

#include <array>

#include "bus/credentials.h"

namespace hub {
namespace {

// Every EVENT the Hub itself publishes on MODULE/EVENT (README, "Events hubd publishes").
constexpr std::array<std::string_view, 12> kLifecycleEvents = {
    "loaded",  "rejected", "shadowed",   "removed", "failed",   "starting",
    "started", "ready",    "restarting", "exited",  "stopping", "stopped",
};

}  // namespace

std::string_view identity_module(std::string_view identity) {
  if (identity == kHubIdentity || identity == kAdminIdentity) return {};
  return identity.substr(0, identity.find_first_of(".@"));
}

bool is_lifecycle_event(std::string_view event) {
  for (std::string_view reserved : kLifecycleEvents) {
    if (event == reserved) return true;
  }
  return false;
}

std::optional<std::string> publish_refusal(std::string_view identity, std::string_view topic) {
  if (identity == kAdminIdentity || identity == kHubIdentity) return std::nullopt;
  const size_t slash = topic.find('/');
  const std::string_view module = topic.substr(0, slash);
  const std::string_view owner = identity_module(identity);
  if (owner.empty() || owner == kHubIdentity || owner == kAdminIdentity) {
    return std::string(identity) + " may publish nothing";  // "Hub.x" is not the Hub
  }
  if (module != owner) {
    return std::string(identity) + " may publish only " + std::string(owner) + "/..., not " +
           std::string(topic);
  }
  if (is_lifecycle_event(topic.substr(slash + 1))) {
    return std::string(topic) + " is a lifecycle event only the Hub publishes";
  }
  return std::nullopt;
}

}  // namespace hub
