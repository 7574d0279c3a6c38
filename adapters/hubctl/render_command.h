// hubctl render [--strict] MODULE TEMPLATE [KEY=VALUE...]: a module's template rendered by
// the hub with the module's configuration (docs/TEMPLATES.md), KEY=VALUE set on top.
// --strict may come anywhere before "--"; after "--", every argument is positional.
#pragma once

#include <string>
#include <vector>

#include "hubctl/hub_session.h"

namespace hub::ctl {

// The text on stdout (the hub's answer as JSON with --json), the names it uses that are
// not defined on stderr; exit 1 for them with --strict.
int render(Hub& hub, const std::vector<std::string>& args);

}  // namespace hub::ctl
