// supervisorctl's pid, avail and signal, for hubctl (man/hubctl.1.md).
#pragma once

#include <string>
#include <vector>

#include "hubctl/hub_session.h"

namespace hub::ctl {

// pid: hubd's; pid NAME: the instance's process (0 when it has none: exit 1); pid all:
// "NAME PID" for every instance.
int pid(Hub& hub, const std::vector<std::string>& args);
// avail: every module the hub knows, loaded or rejected, with whether it is in use
// (up) and enabled, its level and version.
int avail(Hub& hub, const std::vector<std::string>& args);
// signal SIG NAME|NAME.X|all: sends SIG to the instance's process.
int signal_command(Hub& hub, const std::vector<std::string>& args);

}  // namespace hub::ctl
