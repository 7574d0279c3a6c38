// Services under hubd, as a user relies on them: crashes and restart policies, backoff,
// the retry limit, stops that reach every process, readiness and start order, output
// logs, the workspace and environment, resource limits.
#include <signal.h>
#include <sys/stat.h>

#include <fstream>
#include <map>
#include <set>

#include <catch2/catch.hpp>

#include "support/running_hub.h"

using namespace hub;
using namespace hub::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

std::string read(const fs::path& file) {
  std::ifstream in(file);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

std::string restart_yml(const std::string& policy, const std::string& extra = "") {
  return "command: os/linux/programs/run\nrestart: {policy: " + policy +
         ", backoff: {min: 20ms, max: 20ms}, retries: 3}\nstop: {grace: 2s}\n" + extra;
}

// The pid in the retained NAME/started event.
int started_pid(RunningHub& hub, const std::string& name) {
  auto sub = hub.subscribe({name + "/started"}, /*retained=*/true);
  auto started = next_on(sub, name + "/started");
  REQUIRE(started);
  return static_cast<int>(json_int(started->payload(), "pid"));
}

}  // namespace

TEST_CASE("a service killed by a signal restarts under always and on-failure, not under no",
          "[supervisor]") {
  TempDir root;
  for (const auto& [name, policy] :
       {std::pair{"Always", "always"}, {"OnFailure", "on-failure"}, {"Never", "no"}}) {
    add_module(root, name, restart_yml(policy));
    add_script(root, std::string("modules/system/") + name + "/os/linux/programs/run",
               "exec sleep 1000\n");
  }
  RunningHub hub(root);
  for (const std::string name : {"Always", "OnFailure", "Never"}) {
    const int pid = started_pid(hub, name);
    auto sub = hub.subscribe({name + "/#"});
    REQUIRE(::kill(pid, SIGKILL) == 0);
    auto exited = next_on(sub, name + "/exited");
    REQUIRE(exited);
    CHECK(json_int(exited->payload(), "pid") == pid);
    CHECK(json_field(exited->payload(), "signal") == "SIGKILL");
    CHECK(json_field(exited->payload(), "instance") == name);
    CHECK(json_field(exited->payload(), "requested") == "false");
    const std::string after = next_line(sub);
    if (name == "Never") {
      CHECK(after.rfind(name + "/failed ", 0) == 0);
      CHECK(after.find("SIGKILL (restart policy: no)") != std::string::npos);
    } else {
      CHECK(after.rfind(name + "/restarting ", 0) == 0);
      CHECK(json_int(after, "attempt") == 1);
      CHECK(json_int(after, "delay_ms") == 20);
      CHECK(next_line(sub).rfind(name + "/starting ", 0) == 0);
      const std::string started = next_line(sub);
      REQUIRE(started.rfind(name + "/started ", 0) == 0);
      CHECK(json_int(started, "pid") != pid);
      CHECK(process_alive(static_cast<int>(json_int(started, "pid"))));
    }
  }
}

TEST_CASE("exit 1 and SIGSEGV are failures; a clean exit restarts only under always",
          "[supervisor]") {
  TempDir root;
  // Each service ends its first run when the test says so, then runs for good.
  const std::map<std::string, std::pair<std::string, std::string>> cases = {
      {"Exit1", {"on-failure", "exit 1"}},
      {"Segv", {"on-failure", "kill -SEGV $$"}},
      {"CleanAlways", {"always", "exit 0"}},
      {"CleanOnFailure", {"on-failure", "exit 0"}}};
  for (const auto& [name, c] : cases) {
    add_module(root, name, restart_yml(c.first));
    add_script(root, "modules/system/" + name + "/os/linux/programs/run",
               "if [ -e \"$HUB_DATA_DIR/ran\" ]; then exec sleep 1000; fi\n"
               "touch \"$HUB_DATA_DIR/ran\"; read go < \"$HUB_DATA_DIR/go\"\n" +
                   c.second + "\n");
    fs::create_directories(root.path() / "data" / name);
    REQUIRE(::mkfifo((root.path() / "data" / name / "go").c_str(), 0600) == 0);
  }
  auto hub = std::make_unique<RunningHub>(root);
  auto sub = hub->subscribe({"+/exited", "+/restarting", "+/failed", "+/started", "+/stopped"});
  for (const auto& [name, c] : cases) std::ofstream(root.path() / "data" / name / "go") << "go\n";
  std::map<std::string, std::vector<std::string>> seen;  // name -> "EVENT detail"
  // Three of them restart; then the hub stops, so every module ends with NAME/stopped.
  for (int restarted = 0; restarted < 3;) {
    auto e = sub.next(20s);
    REQUIRE(e);
    const std::string topic(e->topic());
    const std::string name = topic.substr(0, topic.find('/'));
    const std::string event = topic.substr(topic.find('/') + 1);
    std::string detail = json_field(e->payload(), "code") + json_field(e->payload(), "signal");
    if (event == "started") {
      detail = std::to_string(json_int(e->payload(), "restarts"));
      restarted++;
    }
    seen[name].push_back(event + " " + detail);
  }
  REQUIRE(hub->stop() == 0);
  for (int stopped = 0; stopped < 4;) {
    auto e = sub.next(20s);
    REQUIRE(e);
    const std::string topic(e->topic());
    const std::string name = topic.substr(0, topic.find('/'));
    const std::string event = topic.substr(topic.find('/') + 1);
    if (event == "stopped") stopped++;
    if (event != "exited") seen[name].push_back(event);  // the stop's own exit
  }
  using V = std::vector<std::string>;
  CHECK(seen["Exit1"] == V{"exited 1", "restarting ", "started 1", "stopped"});
  CHECK(seen["Segv"] == V{"exited SIGSEGV", "restarting ", "started 1", "stopped"});
  CHECK(seen["CleanAlways"] == V{"exited 0", "restarting ", "started 1", "stopped"});
  CHECK(seen["CleanOnFailure"] == V{"exited 0", "stopped"});
}

TEST_CASE("restarts back off exponentially, reset after a stable run, and stop at the limit",
          "[supervisor]") {
  TempDir root;
  // Runs 1-3 fail at once; run 4 lasts longer than reset_after, then fails; from run 5
  // on every run fails at once until the retry limit.
  add_module(root, "Flaky",
             "command: os/linux/programs/run\n"
             "restart: {policy: on-failure, backoff: {min: 40ms, max: 100ms, factor: 2},"
             " reset_after: 400ms, retries: 3}\n");
  add_script(root, "modules/system/Flaky/os/linux/programs/run",
             "n=$(cat \"$HUB_DATA_DIR/runs\" 2>/dev/null || echo 0); n=$((n+1))\n"
             "echo $n > \"$HUB_DATA_DIR/runs\"\n"
             "[ $n -eq 1 ] && read go < \"$HUB_DATA_DIR/go\"\n"
             "[ $n -eq 4 ] && sleep 0.6\n"
             "exit 2\n");
  fs::create_directories(root.path() / "data/Flaky");
  REQUIRE(::mkfifo((root.path() / "data/Flaky/go").c_str(), 0600) == 0);
  RunningHub hub(root);
  auto sub = hub.subscribe({"Flaky/#"});
  std::ofstream(root.path() / "data/Flaky/go") << "go\n";  // run 1 fails once we listen

  std::vector<std::pair<int64_t, int64_t>> attempts;  // attempt, delay_ms
  std::vector<uint64_t> exited_at, started_at;
  std::string failed;
  while (failed.empty()) {
    auto event = sub.next(20s);
    REQUIRE(event);
    const std::string topic(event->topic());
    if (topic == "Flaky/restarting") {
      attempts.emplace_back(json_int(event->payload(), "attempt"),
                            json_int(event->payload(), "delay_ms"));
    } else if (topic == "Flaky/exited") {
      exited_at.push_back(event->time_ns);
    } else if (topic == "Flaky/started") {
      started_at.push_back(event->time_ns);
    } else if (topic == "Flaky/failed") {
      failed = std::string(event->payload());
    }
  }
  // Runs 1-3: delays 40, 80, 100 (capped). Run 4 was stable: back to attempt 1 and 40 ms.
  const std::vector<std::pair<int64_t, int64_t>> expected = {{1, 40}, {2, 80}, {3, 100},
                                                             {1, 40}, {2, 80}, {3, 100}};
  CHECK(attempts == expected);
  CHECK(json_field(failed, "reason").find("exited with code 2; gave up after 3 restart(s)") !=
        std::string::npos);
  // Each restart waited at least its delay (broker timestamps).
  REQUIRE(started_at.size() == attempts.size());
  for (size_t i = 0; i < attempts.size(); ++i) {
    CHECK(started_at[i] - exited_at[i] >= static_cast<uint64_t>(attempts[i].second) * 1'000'000);
  }
  CHECK(read(root.path() / "data/Flaky/runs") == "7\n");
}

TEST_CASE("stopping a service that ignores SIGTERM kills it and every process it forked",
          "[supervisor]") {
  TempDir root;
  add_module(root, "Stubborn",
             "command: os/linux/programs/run\nstop: {grace: 300ms}\nready: {notify: true}\n");
  add_script(root, "modules/system/Stubborn/os/linux/programs/run",
             "trap '' TERM\n"
             "sleep 1000 & echo $! > \"$HUB_DATA_DIR/child\"\n"
             "sh -c 'sleep 1000' & echo $! > \"$HUB_DATA_DIR/grandchild\"\n"
             "echo ready >&3\n"
             "while :; do sleep 1; done\n");
  auto hub = std::make_unique<RunningHub>(root);
  const int pid = started_pid(*hub, "Stubborn");
  auto sub = hub->subscribe({"Stubborn/#"});
  // The hub is up only once the service said it is ready, after writing both pids.
  const int child = std::stoi(read(root.path() / "data/Stubborn/child"));
  const int grandchild = std::stoi(read(root.path() / "data/Stubborn/grandchild"));
  REQUIRE(process_alive(child));
  REQUIRE(process_alive(grandchild));
  REQUIRE(hub->stop() == 0);

  CHECK(next_line(sub).rfind("Stubborn/stopping ", 0) == 0);
  const std::string exited = next_line(sub);
  CHECK(exited.rfind("Stubborn/exited ", 0) == 0);
  CHECK(json_field(exited, "signal") == "SIGKILL");
  CHECK(json_field(exited, "requested") == "true");
  CHECK(json_int(exited, "run_ms") >= 0);
  CHECK(next_line(sub).rfind("Stubborn/stopped ", 0) == 0);
  CHECK_FALSE(process_alive(pid));
  CHECK_FALSE(process_alive(child));
  CHECK_FALSE(process_alive(grandchild));
  CHECK(read(root.path() / "var/log/hub/hubd.log").find("did not stop within 300 ms: SIGKILL") !=
        std::string::npos);
}
