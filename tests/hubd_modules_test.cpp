// hubd with modules, as a user sees it: the loader's decisions and the lifecycle on the
// bus, control scripts run with the module's environment, bundled examples loading, and
// service.yml's needs_config and check.
#include <signal.h>

#include <fstream>
#include <map>
#include <thread>

#include <catch2/catch.hpp>

#include "support/child_process.h"
#include "support/running_hub.h"
#include "support/temp_dir.h"

using hub::test::add_script;
using hub::test::ChildProcess;
using hub::test::TempDir;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

void add_info(const TempDir& root, const std::string& level, const std::string& name,
              const std::string& version, const std::string& depends = "") {
  root.write("modules/" + level + "/" + name + "/info/version.txt", version);
  root.write("modules/" + level + "/" + name + "/info/depends.txt", depends);
}

std::string read(const fs::path& file) {
  std::ifstream in(file);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

// The retained events of `patterns` as bus-tap prints them, by topic, waiting for
// exactly `count` of them.
std::map<std::string, std::string> retained(const TempDir& root, int count,
                                            std::vector<std::string> patterns) {
  std::vector<std::string> args = {
      "--root", root.path().string(), "-C", std::to_string(count), "-W", "10"};
  args.insert(args.end(), patterns.begin(), patterns.end());
  ChildProcess tap(BUS_TAP_PATH, args);
  REQUIRE(tap.wait_exit() == 0);
  std::map<std::string, std::string> by_topic;
  for (const auto& line : tap.stdout_lines()) {
    // SEQ TIME SOURCE TOPIC PAYLOAD
    size_t at = 0;
    for (int field = 0; field < 3; ++field) at = line.find(' ', at) + 1;
    const size_t end = line.find(' ', at);
    by_topic[line.substr(at, end - at)] = line;
  }
  return by_topic;
}

uint64_t seq_of(const std::string& line) { return std::stoull(line.substr(0, line.find(' '))); }

}  // namespace

TEST_CASE("hubd publishes what the loader decided, then starts modules in dependency order",
          "[hubd][modules]") {
  TempDir root;
  add_info(root, "system", "Base", "1.2.3\n");
  add_script(root, "modules/system/Base/control/startup/10-env",
             "echo \"$1 $2 $HUB_MODULE $HUB_MODULE_VERSION $HUB_MODULE_LEVEL $(pwd) $(helper)\" > "
             "\"$HUB_DATA_DIR/env\"\n"
             "cat \"$HUB_MODULE_CONFIG\" >> \"$HUB_DATA_DIR/env\"\n");
  add_script(root, "modules/system/Base/os/linux/programs/helper", "echo helper-on-path\n");
  root.write("config/system/modules/Base/a.yml", "colour: blue\nsize: 1\n");
  root.write("config/site/modules/Base/b.yml", "colour: red\n");
  add_info(root, "site", "App", "0.1.0\n", "Base:1.2\n");
  add_info(root, "site", "Broken", "1.x\n");
  add_info(root, "site", "NeedsBroken", "1.0.0\n", "Broken\n");
  add_info(root, "site", "Fails", "1.0.0\n");
  add_script(root, "modules/site/Fails/control/startup/10-fail", "echo boom >&2; exit 7\n");
  add_info(root, "site", "NeedsFails", "1.0.0\n", "Fails\n");
  add_info(root, "system", "Twice", "1.0.0\n");
  add_info(root, "site", "Twice", "2.0.0\n");

  ChildProcess hubd(HUBD_PATH, {"--root", root.path()});
  REQUIRE(hubd.wait_stderr("hub is up"));

  auto events = retained(
      root, 14, {"+/loaded", "+/rejected", "+/shadowed", "+/started", "+/failed", "Hub/startup"});
  CHECK_THAT(events["Base/loaded"], Catch::Contains("\"version\":\"1.2.3\""));
  CHECK_THAT(events["App/loaded"], Catch::Contains("\"depends\":[\"Base:1.2\"]"));
  CHECK_THAT(events["Broken/rejected"],
             Catch::Contains("version.txt:1: expected MAJOR.MINOR.RELEASE"));
  CHECK_THAT(events["Broken/rejected"], Catch::Contains("\"line\":1"));
  CHECK_THAT(events["NeedsBroken/rejected"],
             Catch::Contains("depends on Broken, which was rejected"));
  CHECK_THAT(
      events["Twice/shadowed"],
      Catch::Contains("\"by_level\":\"site\",\"shadowed\":[{\"level\":\"system\",\"path\":"));
  CHECK_THAT(events["Fails/failed"],
             Catch::Contains("control/startup/10-fail exited with 7: boom"));
  CHECK_THAT(events["NeedsFails/failed"], Catch::Contains("dependency Fails did not start"));
  // Its output is in the module's script log, with the run's outcome.
  const std::string fails_log = read(root.path() / "var/log/hub/scripts/Fails.log");
  CHECK_THAT(fails_log,
             Catch::Contains("control/startup: " +
                             (root.path() / "modules/site/Fails/control/startup/10-fail").string() +
                             " exited with 7 in "));
  CHECK_THAT(fails_log, Catch::Contains("\n  ! boom\n"));
  CHECK_THAT(events["Hub/startup"],
             Catch::Contains("\"modules\":[\"Base\",\"App\",\"Twice\"],\"rejected\":2"));
  for (const char* topic :
       {"Base/loaded", "App/loaded", "Broken/rejected", "Base/started", "App/started"}) {
    INFO(topic);
    CHECK(seq_of(events[topic]) < seq_of(events["Hub/startup"]));  // all before Hub/startup
  }
  CHECK(seq_of(events["Base/started"]) < seq_of(events["App/started"]));

  const std::string env = read(root.path() / "data/Base/env");
  CHECK_THAT(
      env, Catch::StartsWith("Base startup Base 1.2.3 system " +
                             (root.path() / "modules/system/Base").string() + " helper-on-path\n"));
  CHECK_THAT(env, Catch::Contains("colour: red"));  // site wins
  CHECK_THAT(env, Catch::Contains("size: 1"));      // system's key survives the merge

  // Shutdown: reverse order, shutdown scripts run.
  add_script(root, "modules/system/Base/control/shutdown/10-bye",
             "echo bye > \"$HUB_DATA_DIR/bye\"\n");
  // The retained Hub/startup comes first: once it is printed, the tap has joined.
  ChildProcess stops(BUS_TAP_PATH,
                     {"--root", root.path().string(), "-C", "4", "Hub/startup", "+/stopped"});
  REQUIRE(stops.wait_stdout("Hub/startup"));
  hubd.signal(SIGTERM);
  REQUIRE(stops.wait_exit() == 0);
  const auto lines = stops.stdout_lines();
  REQUIRE(lines.size() == 4);
  CHECK_THAT(lines[1], Catch::Contains(" Twice/stopped "));
  CHECK_THAT(lines[2], Catch::Contains(" App/stopped "));
  CHECK_THAT(lines[3], Catch::Contains(" Base/stopped "));
  CHECK(hubd.wait_exit() == 0);
  CHECK(read(root.path() / "data/Base/bye") == "bye\n");
}

TEST_CASE("a module with a broken config file is rejected with the file and line",
          "[hubd][modules]") {
  TempDir root;
  add_info(root, "site", "Conf", "1.0.0\n");
  const fs::path bad = root.write("config/site/modules/Conf/x.yml", "key: [1,\n");
  ChildProcess hubd(HUBD_PATH, {"--root", root.path()});
  REQUIRE(hubd.wait_stderr("hub is up"));
  auto events = retained(root, 1, {"Conf/rejected"});
  CHECK_THAT(events["Conf/rejected"], Catch::Contains("bad configuration: " + bad.string() + ":"));
}

TEST_CASE("the bundled example modules load and start by default", "[hubd][modules][examples]") {
  TempDir root;
  fs::copy(HUB_SOURCE_DIR "/modules", root.path() / "modules", fs::copy_options::recursive);
  fs::copy(HUB_SOURCE_DIR "/config", root.path() / "config", fs::copy_options::recursive);
  fs::copy(HUB_SOURCE_DIR "/events", root.path() / "events", fs::copy_options::recursive);
  const fs::path programs = root.path() / "modules/system/Timer/os/linux/programs";
  fs::create_directories(programs);
  fs::copy_file(TIMER_PATH, programs / "timer", fs::copy_options::overwrite_existing);
  const fs::path heartbeat = root.path() / "modules/site/Heartbeat/os/linux/programs";
  fs::create_directories(heartbeat);
  fs::copy_file(HEARTBEAT_PATH, heartbeat / "heartbeat", fs::copy_options::overwrite_existing);
  root.write("config/site/modules/Timer/fast.yml", "timer: {interval: 50ms}\n");
  ChildProcess hubd(HUBD_PATH, {"--root", root.path()});
  REQUIRE(hubd.wait_stderr("hub is up"));
  auto events = retained(root, 7, {"+/started", "Timer/ready", "Hub/startup"});
  CHECK(events.count("Timer/started") == 1);
  // The fleet bridge is there, but without a broker in its config its service is off.
  REQUIRE(events.count("Bridge/started") == 1);
  CHECK_THAT(events["Bridge/started"], !Catch::Contains("\"instance\""));
  // So is the web console: without `listen` in its config, its service is off.
  REQUIRE(events.count("Console/started") == 1);
  CHECK_THAT(events["Console/started"], !Catch::Contains("\"instance\""));
  CHECK(events.count("Timer/ready") == 1);
  CHECK(events.count("Heartbeat/started") == 1);
  // The Timer's service publishes under its own identity with the credential it was given.
  ChildProcess ticks(BUS_TAP_PATH, {"--root", root.path(), "-C", "3", "-W", "10", "Timer/tick"});
  REQUIRE(ticks.wait_exit() == 0);
  const auto tick_lines = ticks.stdout_lines();
  REQUIRE(tick_lines.size() == 3);
  CHECK_THAT(tick_lines[2], Catch::Contains(" Timer Timer/tick {\"time\":"));
  // Heartbeat, another module's service, answers each tick (module-to-module events).
  ChildProcess beats(BUS_TAP_PATH,
                     {"--root", root.path(), "-R", "-C", "2", "-W", "10", "Heartbeat/beat"});
  REQUIRE(beats.wait_exit() == 0);
  CHECK_THAT(beats.stdout_lines()[1], Catch::Contains(" Heartbeat Heartbeat/beat {\"ticks\":"));
  CHECK(events.count("Greeter/started") == 1);
  CHECK_THAT(events["Hub/startup"], Catch::Contains("\"rejected\":0"));
  hubd.signal(SIGTERM);  // Hub/shutdown's scripts, and so every earlier event's, finish first
  REQUIRE(hubd.wait_exit() == 0);
  // Greeter's startup script, then its script for Timer/started (dispatched in parallel,
  // so either order), then its shutdown script.
  const std::string greetings = read(root.path() / "data/Greeter/greetings.txt");
  CHECK_THAT(greetings,
             Catch::Contains("Hello from this site, the hub at " + root.path().string() + "\n"));
  CHECK_THAT(greetings, Catch::Contains("Hello from this site, Timer Timer\n"));
  CHECK_THAT(greetings, Catch::EndsWith("Goodbye\n"));
  const std::string site_log = read(root.path() / "data/events.log");
  CHECK_THAT(site_log, Catch::Contains("hub started, pid " + std::to_string(hubd.pid())));
  CHECK_THAT(site_log, Catch::Contains("hub stopping on SIGTERM"));
}

TEST_CASE("SIGTERM during a slow startup script stops the hub at once", "[hubd][modules]") {
  TempDir root;
  add_info(root, "site", "Slow", "1.0.0\n");
  add_script(root, "modules/site/Slow/control/startup/10-slow", "sleep 3600\n");
  add_info(root, "site", "After", "1.0.0\n", "Slow\n");
  ChildProcess hubd(HUBD_PATH, {"--root", root.path()});
  REQUIRE(hubd.wait_stderr("module Slow 1.0.0 loaded"));
  hubd.signal(SIGTERM);  // the startup script is about to run, or running
  REQUIRE(hubd.wait_exit(10s) == 0);
  const std::string err = hubd.stderr_text();
  CHECK_THAT(err, !Catch::Contains("hub is up"));  // no Hub/startup for an aborted start
  CHECK_THAT(err, Catch::Contains("SIGTERM received"));
  CHECK_THAT(err, !Catch::Contains("module After started"));
}

// ---- needs_config and check ----------------------------------------------------------

namespace {

// `hubctl ARGS` on `root`: its stdout, and REQUIREs exit code `code`.
std::string hubctl_output(const TempDir& root, std::vector<std::string> args, int code = 0) {
  args.insert(args.begin(), {"--root", root.path().string()});
  ChildProcess hubctl(HUBCTL_PATH, args);
  REQUIRE(hubctl.wait_exit() == code);
  std::string out;
  for (const auto& line : hubctl.stdout_lines()) out += line + "\n";
  return out;
}

}  // namespace

TEST_CASE(
    "a module whose config lacks needs_config runs without its service until a reload "
    "gives it the key",
    "[hubd][modules][check]") {
  TempDir root;
  hub::test::add_module(root, "Bridge",
                        "command: /bin/sleep\nargs: ['1000']\nneeds_config: broker\n");
  add_script(root, "modules/system/Bridge/control/startup/10-up",
             "echo up >> \"$HUB_DATA_DIR/startups\"\n");
  root.write("config/site/modules/Bridge/bridge.yml", "qos: 1\n");
  hub::test::RunningHub hub(root);
  const std::string why = "its configuration has no `broker` (config/LEVEL/modules/Bridge/*.yml)";
  CHECK(hub.process().wait_stderr("module Bridge: its service does not run: " + why, 1s));

  // Loaded and up, its control scripts run, but no service.
  auto events = retained(root, 2, {"Bridge/loaded", "Bridge/started"});
  CHECK_THAT(events["Bridge/loaded"], Catch::Contains("\"service\":false"));
  CHECK_THAT(events["Bridge/loaded"], Catch::Contains("\"service_off\":\"" + why + "\""));
  CHECK_THAT(events["Bridge/started"], !Catch::Contains("\"pid\""));
  CHECK(read(root.path() / "data/Bridge/startups") == "up\n");
  const std::string inspect = hubctl_output(root, {"inspect", "--json"});
  CHECK_THAT(inspect,
             Catch::Contains("\"state\":\"up\",\"service\":false,\"service_off\":\"" + why + "\""));
  CHECK_THAT(inspect, Catch::Contains("\"instances\":[]"));
  CHECK_THAT(hubctl_output(root, {"status"}), Catch::Contains("(service off: " + why + ")"));

  // The config gains the key: the module's definition changed, its service starts.
  auto sub = hub.subscribe({"Hub/reload", "Bridge/started", "Bridge/stopped"});
  root.write("config/site/modules/Bridge/bridge.yml", "qos: 1\nbroker: {host: localhost}\n");
  hub.process().signal(SIGHUP);
  auto started = hub::test::next_on(sub, "Bridge/started");
  REQUIRE(started);
  const int pid = static_cast<int>(hub::test::json_int(started->payload(), "pid"));
  CHECK(hub::test::process_alive(pid));
  auto reload = hub::test::next_on(sub, "Hub/reload");
  REQUIRE(reload);
  CHECK(hub::test::json_field(reload->payload(), "changed") == "[\"Bridge\"]");
  CHECK_THAT(hubctl_output(root, {"inspect", "--json"}),
             Catch::Contains("\"state\":\"up\",\"service\":true,\"restarts_total\":0}"));

  // And loses it: the service stops, the module stays up without it.
  root.write("config/site/modules/Bridge/bridge.yml", "qos: 1\nbroker: ~\n");
  hub.process().signal(SIGHUP);
  REQUIRE(hub::test::next_on(sub, "Bridge/stopped"));
  started = hub::test::next_on(sub, "Bridge/started");
  REQUIRE(started);
  CHECK(std::string(started->payload()).find("\"pid\"") == std::string::npos);
  CHECK(hub::test::process_exits(pid, 10s));
  CHECK(read(root.path() / "data/Bridge/startups") == "up\nup\nup\n");
}

TEST_CASE("a failing configuration check rejects its module before its service runs",
          "[hubd][modules][check]") {
  TempDir root;
  hub::test::add_module(root, "Bridge",
                        "command: os/linux/programs/serve\n"
                        "check: {command: os/linux/tools/check, args: [--strict]}\n");
  add_script(root, "modules/system/Bridge/os/linux/programs/serve",
             "touch \"$HUB_DATA_DIR/served\"\nexec sleep 1000\n");
  // It passes once the site says so, and sees the files it is to check.
  add_script(root, "modules/system/Bridge/os/linux/tools/check",
             "echo \"$@\" > checked\n"
             "[ -e pass ] && exit 0\n"
             "echo 'config/site/modules/Bridge/bridge.yml:3:5: outbound[0].qos: expected 0 or 1'\n"
             "exit 1\n");
  root.write("config/system/modules/Bridge/defaults.yml", "outbound: []\n");
  root.write("config/site/modules/Bridge/bridge.yml", "broker: x\noutbound:\n  - {qos: 2}\n");
  hub::test::RunningHub hub(root);
  auto events = retained(root, 1, {"Bridge/rejected"});
  const std::string& rejected = events["Bridge/rejected"];
  CHECK_THAT(rejected, Catch::Contains("\"reason\":\"configuration check failed: "
                                       "config/site/modules/Bridge/bridge.yml:3:5: "
                                       "outbound[0].qos: expected 0 or 1\""));
  CHECK_THAT(rejected,
             Catch::Contains("\"file\":\"" +
                             (root.path() / "config/site/modules/Bridge/bridge.yml").string() +
                             "\",\"line\":3"));
  CHECK(read(root.path() / "checked") ==
        "--strict config/system/modules/Bridge/defaults.yml "
        "config/site/modules/Bridge/bridge.yml\n");
  CHECK_FALSE(fs::exists(root.path() / "data/Bridge/served"));
  CHECK_THAT(hubctl_output(root, {"inspect", "--json"}), Catch::Contains("\"instances\":[]"));

  // Fixed: a reload runs the check again, and the service starts.
  auto sub = hub.subscribe({"Hub/reload", "Bridge/started"});
  root.write("pass", "");
  hub.process().signal(SIGHUP);
  auto started = hub::test::next_on(sub, "Bridge/started");
  REQUIRE(started);
  CHECK(hub::test::process_alive(static_cast<int>(hub::test::json_int(started->payload(), "pid"))));
  auto reload = hub::test::next_on(sub, "Hub/reload");
  REQUIRE(reload);
  CHECK(hub::test::json_field(reload->payload(), "added") == "[\"Bridge\"]");

  // Broken again: the running version is kept, as for any rejected definition.
  fs::remove(root.path() / "pass");
  auto rejections = hub.subscribe({"Bridge/rejected"});
  hub.process().signal(SIGHUP);
  auto again = hub::test::next_on(rejections, "Bridge/rejected");
  REQUIRE(again);
  CHECK(hub::test::json_field(again->payload(), "kept_running") == "true");
  CHECK(hub::test::process_alive(static_cast<int>(hub::test::json_int(started->payload(), "pid"))));
}

TEST_CASE("hubd stopped while a check runs does not report its module rejected",
          "[hubd][modules][check]") {
  // The check was cut short because the hub is stopping, not because the configuration is
  // bad: a retained Bridge/rejected (and the scripts of events/Bridge/rejected/) would
  // tell the fleet otherwise until the next rejection of the same module.
  TempDir root;
  hub::test::add_module(root, "Bridge",
                        "command: os/linux/programs/serve\n"
                        "check: {command: os/linux/tools/check, timeout: 60s}\n");
  add_script(root, "modules/system/Bridge/os/linux/programs/serve", "exec sleep 1000\n");
  add_script(root, "modules/system/Bridge/os/linux/tools/check",
             "touch \"$HUB_ROOT/checking\"\nexec sleep 60\n");
  root.write("config/site/modules/Bridge/bridge.yml", "broker: x\n");
  ChildProcess hubd(HUBD_PATH, {"--root", root.path()});
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (!fs::exists(root.path() / "checking") && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  REQUIRE(fs::exists(root.path() / "checking"));
  hubd.signal(SIGTERM);
  REQUIRE(hubd.wait_exit().has_value());
  INFO(hubd.stderr_text());
  CHECK_THAT(hubd.stderr_text(), !Catch::Contains("module Bridge rejected"));
}

TEST_CASE("a copy shadowed by a reload is announced as at start", "[hubd][modules]") {
  TempDir root;
  add_info(root, "system", "Twice", "1.0.0\n");
  hub::test::RunningHub hub(root);
  auto sub = hub.subscribe({"Hub/reload", "Twice/shadowed"});
  add_info(root, "site", "Twice", "2.0.0\n");  // now the site's copy wins
  hub.process().signal(SIGHUP);
  auto shadowed = hub::test::next_on(sub, "Twice/shadowed");
  REQUIRE(shadowed);
  CHECK_THAT(
      std::string(shadowed->payload()),
      Catch::Contains("\"by_level\":\"site\",\"shadowed\":[{\"level\":\"system\",\"path\":"));
  CHECK(hub::test::next_on(sub, "Hub/reload"));
}
