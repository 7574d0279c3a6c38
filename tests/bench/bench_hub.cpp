#include "bench/bench_hub.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "bus/bus_paths.h"
#include "support/running_hub.h"

namespace hub::bench {
namespace fs = std::filesystem;

namespace {

// A bundled module's info/ and service.yml, and `program` as its service's command (a
// system-level config override, as a build outside the tree would need).
void add_bundled(const test::TempDir& root, const std::string& name, const std::string& program,
                 const std::string& extra_service_yml) {
  const fs::path source = fs::path(HUB_SOURCE_DIR) / "modules/system" / name;
  const fs::path dest = root.path() / "modules/system" / name;
  fs::create_directories(dest);
  fs::copy(source / "info", dest / "info", fs::copy_options::recursive);
  fs::copy_file(source / "service.yml", dest / "service.yml");
  root.write("config/system/modules/" + name + "/service.yml",
             "command: " + program + "\n" + extra_service_yml);
}

}  // namespace

void add_bridge_module(const test::TempDir& root, const std::string& bridge_yml) {
  add_bundled(root, "Bridge", BRIDGE_PATH, std::string("check: {command: ") + BRIDGE_PATH + "}\n");
  root.write("config/site/modules/Bridge/bridge.yml", bridge_yml);
}

void add_timer_module(const test::TempDir& root, std::chrono::milliseconds interval) {
  add_bundled(root, "Timer", TIMER_PATH, "");
  // Its bundled settings too: the program expects every key of them.
  fs::create_directories(root.path() / "config/system/modules/Timer");
  fs::copy_file(fs::path(HUB_SOURCE_DIR) / "config/system/modules/Timer/timer.yml",
                root.path() / "config/system/modules/Timer/timer.yml");
  root.write("config/site/modules/Timer/fast.yml",
             "timer: {interval: " + std::to_string(interval.count()) + "ms}\n");
}

Publisher admin_publisher(zmq::context_t& ctx, const test::TempDir& root) {
  auto pub = Publisher::connect(ctx, ipc_endpoint(BusPaths::for_root(root.path()).ingest_socket),
                                test::admin_credential(root));
  if (!pub) throw std::runtime_error(pub.error());
  return std::move(*pub);
}

namespace {

// "KEY:   1234 kB" in a /proc file of `pid`.
long proc_kib(int pid, const std::string& file, const std::string& key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/" + file);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(key + ":", 0) == 0)
      return std::strtol(line.c_str() + key.size() + 1, nullptr, 10);
  }
  return 0;
}

}  // namespace

long rss_kib(int pid) { return proc_kib(pid, "status", "VmRSS"); }
long pss_kib(int pid) { return proc_kib(pid, "smaps_rollup", "Pss"); }

std::vector<ChildInfo> children_of(int pid) {
  std::vector<ChildInfo> out;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string text((std::istreambuf_iterator<char>(stat)), {});
    // PID (COMM) STATE PPID ...: COMM may hold spaces and parentheses, so from the last ')'.
    const size_t open = text.find('('), close = text.rfind(')');
    if (open == std::string::npos || close == std::string::npos) continue;
    std::istringstream rest(text.substr(close + 1));
    std::string state;
    int ppid = 0;
    rest >> state >> ppid;
    if (ppid == pid) out.push_back({std::stoi(name), text.substr(open + 1, close - open - 1)});
  }
  return out;
}

}  // namespace hub::bench
