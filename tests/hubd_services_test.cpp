// hubd and its services across its own life: a hubd killed with SIGKILL leaves nothing
// running twice, SIGHUP reloads only what changed, and a bad service definition rejects
// its module with the file and key.
#include <signal.h>

#include <fstream>

#include <catch2/catch.hpp>

#include "core/services/instance_records.h"
#include "support/running_hub.h"

using namespace hub;
using namespace hub::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// The events of one tap: `count` events of `patterns` (retained ones included).
std::vector<std::string> tap(const TempDir& root, int count, std::vector<std::string> patterns) {
  std::vector<std::string> args = {"--root", root.path(), "-C", std::to_string(count), "-W", "20"};
  args.insert(args.end(), patterns.begin(), patterns.end());
  ChildProcess bus_tap(BUS_TAP_PATH, args);
  REQUIRE(bus_tap.wait_exit() == 0);
  return bus_tap.stdout_lines();
}

int pid_in(const std::string& line) { return static_cast<int>(json_int(line, "pid")); }

}  // namespace

TEST_CASE("after hubd is killed with SIGKILL, the next hubd stops what it left and runs it once",
          "[hubd][services]") {
  TempDir root;
  // Ignores SIGTERM (the signal a service gets when hubd dies) and keeps a child.
  add_module(root, "Keeper",
             "command: os/linux/programs/run\nready: {notify: true}\nstop: {grace: 300ms}\n");
  add_script(root, "modules/system/Keeper/os/linux/programs/run",
             "trap '' TERM\nsleep 1000 & echo $! > \"$HUB_DATA_DIR/child\"\n"
             "echo ready >&3\nwhile :; do sleep 1; done\n");
  int old_pid = 0, old_child = 0;
  {
    ChildProcess hubd(HUBD_PATH, {"--root", root.path()});
    REQUIRE(hubd.wait_stderr("hub is up"));
    old_pid = pid_in(tap(root, 1, {"Keeper/started"})[0]);
    old_child = std::stoi(read_file(root.path() / "data/Keeper/child"));
    hubd.signal(SIGKILL);
    REQUIRE(hubd.wait_exit());
  }
  REQUIRE(process_alive(old_pid));  // survived its hubd, as a stubborn service can
  REQUIRE(process_alive(old_child));

  // An unrelated process whose pid is in a stale record (as after pid reuse) is never hit.
  ChildProcess bystander("/bin/sleep", {"1000"});
  InstanceRecords records(root.path() / "var/run/hub/instances");
  REQUIRE(records.save({"Ghost", bystander.pid(), 1, current_boot_id(), "not-its-run"}));

  ChildProcess hubd(HUBD_PATH, {"--root", root.path()});
  REQUIRE(hubd.wait_stderr("hub is up"));
  const auto left = hubd.wait_stderr("left running by an earlier hubd: Keeper", 1s);
  REQUIRE(left);
  CHECK(left->find("killed after the grace period") != std::string::npos);
  CHECK_FALSE(process_alive(old_pid));
  CHECK_FALSE(process_alive(old_child));
  CHECK(process_alive(bystander.pid()));
  const int new_pid = pid_in(tap(root, 1, {"Keeper/started"})[0]);
  CHECK(new_pid != old_pid);
  CHECK(process_alive(new_pid));
  hubd.signal(SIGTERM);
  CHECK(hubd.wait_exit() == 0);
  CHECK_FALSE(process_alive(new_pid));  // services do not outlive a hubd shutdown
  CHECK(fs::is_empty(root.path() / "var/run/hub/instances"));
}

TEST_CASE("SIGHUP starts new modules, stops removed ones, restarts changed ones only",
          "[hubd][services][reload]") {
  TempDir root;
  const std::string sleeper = "command: /bin/sleep\nargs: ['1000']\n";
  add_module(root, "Same", sleeper);
  add_module(root, "Changes", sleeper);
  add_module(root, "Goes", sleeper);
  add_module(root, "Plain", "");
  RunningHub hub(root);
  const int same_pid = pid_in(tap(root, 1, {"Same/started"})[0]);
  const int changes_pid = pid_in(tap(root, 1, {"Changes/started"})[0]);
  const int goes_pid = pid_in(tap(root, 1, {"Goes/started"})[0]);

  auto sub = hub.subscribe({"#"});
  auto gone = hub.subscribe({"Goes/#"});
  add_module(root, "Comes", sleeper, "Same\n");
  root.write("config/site/modules/Changes/service.yml", "args: ['2000']\n");
  fs::remove_all(root.path() / "modules/system/Goes");
  hub.process().signal(SIGHUP);
  auto reload = next_on(sub, "Hub/reload");
  REQUIRE(reload);
  const std::string payload(reload->payload());
  CHECK(json_field(payload, "added") == "[\"Comes\"]");
  CHECK(json_field(payload, "removed") == "[\"Goes\"]");
  CHECK(json_field(payload, "changed") == "[\"Changes\"]");
  CHECK(payload.find("\"unchanged\":[\"Plain\",\"Same\"]") != std::string::npos);
  CHECK(json_field(payload, "failed") == "[]");

  CHECK(process_alive(same_pid));  // untouched
  CHECK_FALSE(process_alive(goes_pid));
  CHECK_FALSE(process_alive(changes_pid));
  const auto changes = tap(root, 1, {"Changes/started"});
  CHECK(changes[0].find("/bin/sleep") != std::string::npos);
  CHECK(process_alive(pid_in(changes[0])));
  CHECK(read_file("/proc/" + std::to_string(pid_in(changes[0])) + "/cmdline") ==
        std::string("/bin/sleep\0002000\000", 16));
  CHECK(process_alive(pid_in(tap(root, 1, {"Comes/started"})[0])));
  // Goes stopped, then was removed: its retained state went with it.
  CHECK(next_on(gone, "Goes/stopped"));
  CHECK(next_on(gone, "Goes/removed"));
  CHECK(hub.subscribe({"Goes/#"}, /*retained=*/true).next(std::chrono::milliseconds(300)) ==
        std::nullopt);
}

TEST_CASE("a reload that breaks a running module keeps the running version",
          "[hubd][services][reload]") {
  TempDir root;
  add_module(root, "Steady", "command: /bin/sleep\nargs: ['1000']\n");
  RunningHub hub(root);
  const int pid = pid_in(tap(root, 1, {"Steady/started"})[0]);
  auto sub = hub.subscribe({"Hub/reload", "Steady/rejected"});
  root.write("modules/system/Steady/service.yml", "command: /bin/sleep\nargs: 1000\n");
  hub.process().signal(SIGHUP);
  auto rejected = next_on(sub, "Steady/rejected");
  REQUIRE(rejected);
  CHECK(json_field(rejected->payload(), "kept_running") == "true");
  CHECK(json_field(rejected->payload(), "reason").find("service.yml:2:7: args: expected a list") !=
        std::string::npos);
  auto reload = next_on(sub, "Hub/reload");
  REQUIRE(reload);
  CHECK(std::string(reload->payload()).find("\"kept\":[{\"name\":\"Steady\"") != std::string::npos);
  CHECK(process_alive(pid));
}

TEST_CASE("a service that failed for good gets another try on reload", "[hubd][services][reload]") {
  TempDir root;
  add_module(root, "Gives", "command: os/linux/programs/run\nrestart: {policy: 'no'}\n");
  add_script(root, "modules/system/Gives/os/linux/programs/run",
             "[ -e \"$HUB_DATA_DIR/fixed\" ] && exec sleep 1000\nexit 4\n");
  RunningHub hub(root);
  CHECK(tap(root, 1, {"Gives/failed"})[0].find("exited with code 4 (restart policy: no)") !=
        std::string::npos);
  root.write("data/Gives/fixed", "");
  auto sub = hub.subscribe({"Hub/reload", "Gives/started"});
  hub.process().signal(SIGHUP);
  auto started = next_on(sub, "Gives/started");
  REQUIRE(started);
  CHECK(process_alive(static_cast<int>(json_int(started->payload(), "pid"))));
  auto reload = next_on(sub, "Hub/reload");
  REQUIRE(reload);
  CHECK(json_field(reload->payload(), "changed") == "[\"Gives\"]");
}

TEST_CASE("bad service.yml values reject the module, naming the file, line and key",
          "[hubd][services]") {
  TempDir root;
  add_module(root, "Typo",
             "command: /bin/true\nrestart: {policy: sometimes}\nstop: {grace: soon}\n");
  add_module(root, "Escapes", "command: /bin/true\nvolumes: [{source: ../../etc, target: etc}]\n");
  fs::create_directories(root.path() / "outside-link-target");
  add_module(root, "Sneaky", "command: /bin/true\nvolumes: [{source: link, target: x}]\n");
  fs::create_directory_symlink("/etc", root.path() / "link");
  add_module(root, "Fine", "command: /bin/sleep\nargs: ['1000']\n");
  RunningHub hub(root);
  const auto lines = tap(root, 3, {"Typo/rejected", "Escapes/rejected", "Sneaky/rejected"});
  std::string all;
  for (const auto& l : lines) all += l + "\n";
  const std::string file = (root.path() / "modules/system/Typo/service.yml").string();
  CHECK(all.find(file + ":2:19: restart.policy: expected always, on-failure or no") !=
        std::string::npos);
  CHECK(all.find(file + ":3:15: stop.grace: expected a duration") != std::string::npos);
  CHECK(all.find("volumes[0].source: expected a path without '..', got '../../etc'") !=
        std::string::npos);
  CHECK(all.find("volume link resolves to /etc, outside the root") != std::string::npos);
  CHECK(tap(root, 1, {"Fine/started"}).size() == 1);  // the others do not hold it up
}
