// Who may subscribe to what (README, "Security"). The broker applies it to every live
// subscription, retained snapshot and journal replay.
//
//   Hub (hubd itself)         everything
//   admin (hubctl, bus-tap)   everything
//   Foo, Foo.X (instances of module Foo's service), Foo@scripts (Foo's event scripts)
//                             Foo/#, Hub/#, every module's lifecycle events by name
//                             (Timer/started, Bar/exited, ...: topic_owner.h), and what
//                             Foo's service.yml declares under `subscribe:`
//   anyone else               Hub/# and the lifecycle events, as above
//
// A subscription is judged by what it lets through. Live, ZeroMQ subscribes to prefixes
// (the text of a pattern before its first wildcard), so a pattern counts as its prefix:
// "Timer/+" as "Timer/" (all of Timer), "+/started" as "" (everything; refused unless
// "#" is declared). A prefix is allowed when every topic it lets through is: it begins
// with "M/" for a module M wholly readable (its own, Hub, a declared "M/#" or "#"), or it
// is a whole topic readable by name (a lifecycle event, or one a declared pattern
// matches). A prefix that is a whole topic also lets through the topics it begins (the
// prefix "Timer/tick" lets "Timer/ticks" through too), as ZeroMQ does.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hub {

// Why `identity` may not subscribe to `prefix` (a ZeroMQ prefix), given the patterns its
// module declares, or nullopt.
std::optional<std::string> subscribe_refusal(std::string_view identity, std::string_view prefix,
                                             const std::vector<std::string>& declared);

// The patterns each module declares (service.yml `subscribe:`). Safe for concurrent use.
class SubscribeRules {
 public:
  // Replaces every module's declaration (the modules loaded now).
  void declare(std::map<std::string, std::vector<std::string>> by_module);
  // Why `identity` may not subscribe to `prefix`, or nullopt.
  std::optional<std::string> refusal(std::string_view identity, std::string_view prefix) const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::vector<std::string>, std::less<>> declared_;  // guarded by mu_
};

}  // namespace hub
