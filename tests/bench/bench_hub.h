// What the hub columns of the MQTT benchmarks share: a hub root with the bundled Bridge
// (and Timer) modules whose programs come from this build, an admin publisher into a
// running hub, and the memory of a process and of its children.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include <zmq.hpp>

#include "bus/publisher.h"
#include "support/temp_dir.h"

namespace hub::bench {

// modules/system/Bridge as bundled (info, service.yml), its program this build's bridge
// (BRIDGE_PATH), and `bridge_yml` as the site's config (config/site/modules/Bridge/).
void add_bridge_module(const test::TempDir& root, const std::string& bridge_yml);
// modules/system/Timer as bundled without its control scripts, with its bundled settings
// (config/system/modules/Timer/timer.yml), its program this build's timer (TIMER_PATH),
// ticking every `interval` (config/site/modules/Timer/fast.yml).
void add_timer_module(const test::TempDir& root, std::chrono::milliseconds interval);

// A publisher into the hub running on `root`, as its administrator (any topic).
Publisher admin_publisher(zmq::context_t& ctx, const test::TempDir& root);

// VmRSS of `pid` in KiB (0 when it is gone).
long rss_kib(int pid);
// Its proportional set size (shared pages divided among the processes that map them), in
// KiB: what it adds to the machine's memory (0 when it is gone).
long pss_kib(int pid);
// The direct children of `pid` (from /proc), with their command names.
struct ChildInfo {
  int pid = 0;
  std::string name;
};
std::vector<ChildInfo> children_of(int pid);

}  // namespace hub::bench
