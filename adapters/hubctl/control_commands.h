// hubctl's commands that ask the hub to look or to act through its API (docs/API.md):
// status, inspect, start, stop, restart, enable, disable, reload and reread.
#pragma once

#include <string>
#include <vector>

#include "hubctl/hub_session.h"

namespace hub::ctl {

int status(Hub& hub, const std::vector<std::string>& names);
int inspect(Hub& hub, const std::vector<std::string>& args);
// start|stop|restart NAME | NAME.X [KEY=VALUE...] | all
int start_or_stop(Hub& hub, const std::string& method, const std::vector<std::string>& args);
int enable_or_disable(Hub& hub, const std::string& method, const std::vector<std::string>& args);
// reload, or (dry_run) reread: what a reload would change, nothing done.
int reload(Hub& hub, const std::vector<std::string>& args, bool dry_run);

}  // namespace hub::ctl
