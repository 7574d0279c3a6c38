// Who may publish what on the bus (README, "Security"). The broker applies it to every
// publish; the Hub API applies the same identities to what a caller may control.
//
//   Hub (hubd itself)         anything
//   admin (hubctl, bus-tap)   anything
//   Foo, Foo.X (instances of module Foo's service), Foo@scripts (Foo's event scripts)
//                             Foo/EVENT, except the lifecycle events the Hub publishes
//                             for modules (Foo/started, Foo/exited, ...)
//   anyone else               nothing
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace hub {

// The suffix of the identity a module's event scripts publish with ("Foo@scripts").
inline constexpr std::string_view kScriptsIdentitySuffix = "@scripts";

// The module an identity acts for: "Foo" for "Foo", "Foo.X" and "Foo@scripts"; empty for
// the Hub and the administrator.
std::string_view identity_module(std::string_view identity);

// True for EVENT names only the Hub publishes on a module's topics (MODULE/EVENT).
bool is_lifecycle_event(std::string_view event);

// Why `identity` may not publish `topic` (a well-formed MODULE/EVENT), or nullopt.
std::optional<std::string> publish_refusal(std::string_view identity, std::string_view topic);

}  // namespace hub
