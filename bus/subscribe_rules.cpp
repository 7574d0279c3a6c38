#include "bus/subscribe_rules.h"

#include "bus/credentials.h"
#include "bus/topic_filter.h"
#include "bus/topic_owner.h"
#include "bus/wire.h"

namespace hub {
namespace {

bool starts_with(std::string_view s, std::string_view head) {
  return s.substr(0, head.size()) == head;
}

// True when every topic beginning with `prefix` is one of module `module`'s.
bool within_module(std::string_view prefix, std::string_view module) {
  return !module.empty() && prefix.size() > module.size() && starts_with(prefix, module) &&
         prefix[module.size()] == '/';
}

// True when `prefix` is a whole topic MODULE/EVENT whose EVENT the Hub publishes.
bool lifecycle_topic(std::string_view prefix) {
  const size_t slash = prefix.find('/');
  return !wire::topic_problem(prefix) && is_lifecycle_event(prefix.substr(slash + 1));
}

// True when `declared` (a valid pattern) lets `prefix` through: "#" everything, "M/#"
// (literal levels, then '#') every prefix beginning "M/", any pattern a whole topic it
// matches.
bool declared_allows(std::string_view declared, std::string_view prefix) {
  if (declared == "#") return true;
  const std::string_view head = declared.substr(0, declared.size() - 1);
  if (declared.size() >= 2 && declared.substr(declared.size() - 2) == "/#" &&
      head.find('+') == std::string_view::npos && starts_with(prefix, head)) {
    return true;
  }
  return !wire::topic_problem(prefix) && !pattern_problem(declared) &&
         pattern_matches(declared, prefix);
}

}  // namespace

std::optional<std::string> subscribe_refusal(std::string_view identity, std::string_view prefix,
                                             const std::vector<std::string>& declared) {
  if (identity == kAdminIdentity || identity == kHubIdentity) return std::nullopt;
  const std::string_view module = identity_module(identity);
  if (module != kHubIdentity && module != kAdminIdentity && within_module(prefix, module)) {
    return std::nullopt;
  }
  if (within_module(prefix, kHubIdentity) || lifecycle_topic(prefix)) return std::nullopt;
  for (const auto& pattern : declared) {
    if (declared_allows(pattern, prefix)) return std::nullopt;
  }
  const std::string what =
      prefix.empty() ? std::string("everything (#)") : "'" + std::string(prefix) + "'";
  return std::string(identity) + " may not subscribe to " + what +
         ": a module reads its own topics, Hub/#, the lifecycle events by name, and what its "
         "service.yml declares under subscribe:";
}

void SubscribeRules::declare(std::map<std::string, std::vector<std::string>> by_module) {
  std::lock_guard lock(mu_);
  declared_.clear();
  for (auto& [module, patterns] : by_module) declared_.emplace(module, std::move(patterns));
}

std::optional<std::string> SubscribeRules::refusal(std::string_view identity,
                                                   std::string_view prefix) const {
  static const std::vector<std::string> kNone;
  if (identity == kAdminIdentity || identity == kHubIdentity) return std::nullopt;
  std::lock_guard lock(mu_);
  const auto it = declared_.find(identity_module(identity));
  return subscribe_refusal(identity, prefix, it == declared_.end() ? kNone : it->second);
}

}  // namespace hub
