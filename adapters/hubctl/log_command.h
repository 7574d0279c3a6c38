// hubctl logs: a service instance's output (var/log/hub/NAME.log) or a module's event
// script log (scripts/NAME.log), tail, follow across rotations, --since and JSON lines.
#pragma once

#include <string>
#include <vector>

#include "hubctl/hub_session.h"

namespace hub::ctl {

int logs(Hub& hub, const std::vector<std::string>& args);

}  // namespace hub::ctl
