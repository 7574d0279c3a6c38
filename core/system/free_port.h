// TCP ports on 127.0.0.1 that are free at the moment of asking, picked by the kernel: the
// API's `port` method and the ports a service asks for in service.yml (`ports:`).
// Thread-safe.
#pragma once

#include <cstddef>
#include <vector>

#include "bus/status.h"

namespace hub {

// One free port.
Result<int> free_port();

// `count` free ports, all different: each stays bound until all are picked, so the kernel
// cannot hand out the same one twice.
Result<std::vector<int>> free_ports(size_t count);

}  // namespace hub
