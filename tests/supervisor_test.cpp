// Services under hubd, as a user relies on them: crashes and restart policies, backoff,
// the retry limit, stops that reach every process, readiness and start order, output
// logs, the workspace and environment, resource limits.
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
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

TEST_CASE("exit 1 and SIGSEGV are failures under every policy, a clean exit is not",
          "[supervisor]") {
  using V = std::vector<std::string>;
  struct Case {
    std::string policy, crash;
    V expected;  // events of the module after its crash, up to NAME/stopped at hub stop
  };
  const V restarts = {"exited", "restarting", "started 1", "stopped"};
  const std::map<std::string, Case> cases = {
      {"Exit1Always", {"always", "exit 1", restarts}},
      {"Exit1OnFailure", {"on-failure", "exit 1", restarts}},
      {"Exit1No", {"no", "exit 1", {"exited", "failed", "stopped"}}},
      {"SegvAlways", {"always", "kill -SEGV $$", restarts}},
      {"SegvOnFailure", {"on-failure", "kill -SEGV $$", restarts}},
      {"SegvNo", {"no", "kill -SEGV $$", {"exited", "failed", "stopped"}}},
      {"CleanAlways", {"always", "exit 0", restarts}},
      {"CleanOnFailure", {"on-failure", "exit 0", {"exited", "stopped"}}},
      {"CleanNo", {"no", "exit 0", {"exited", "stopped"}}}};
  TempDir root;
  // Each service ends its first run when the test says so, then runs for good.
  for (const auto& [name, c] : cases) {
    add_module(root, name, restart_yml(c.policy));
    add_script(root, "modules/system/" + name + "/os/linux/programs/run",
               "if [ -e \"$HUB_DATA_DIR/ran\" ]; then exec sleep 1000; fi\n"
               "touch \"$HUB_DATA_DIR/ran\"; read go < \"$HUB_DATA_DIR/go\"\n" +
                   c.crash + "\n");
    fs::create_directories(root.path() / "data" / name);
    REQUIRE(::mkfifo((root.path() / "data" / name / "go").c_str(), 0600) == 0);
  }
  auto hub = std::make_unique<RunningHub>(root);
  auto sub = hub->subscribe({"+/exited", "+/restarting", "+/failed", "+/started", "+/stopped"});
  for (const auto& [name, c] : cases) std::ofstream(root.path() / "data" / name / "go") << "go\n";

  std::map<std::string, V> seen;
  std::map<std::string, std::string> exit_of, failure_of;
  const auto settled = [&] {
    for (const auto& [name, c] : cases) {
      if (seen[name].size() + 1 < c.expected.size()) return false;
    }
    return true;
  };
  const auto take = [&](bool stopping) {
    auto e = sub.next(20s);
    REQUIRE(e);
    const std::string topic(e->topic());
    const std::string name = topic.substr(0, topic.find('/'));
    std::string event = topic.substr(topic.find('/') + 1);
    if (event == "exited" && stopping) return;  // the stop's own exit
    if (event == "exited") {
      exit_of[name] = json_field(e->payload(), "code") + json_field(e->payload(), "signal");
    }
    if (event == "failed") failure_of[name] = json_field(e->payload(), "reason");
    if (event == "started") event += " " + std::to_string(json_int(e->payload(), "restarts"));
    seen[name].push_back(event);
  };
  while (!settled()) take(false);
  REQUIRE(hub->stop() == 0);  // every module then ends with NAME/stopped
  while (std::count_if(seen.begin(), seen.end(), [](const auto& s) {
           return !s.second.empty() && s.second.back() == "stopped";
         }) < static_cast<long>(cases.size())) {
    take(true);
  }
  for (const auto& [name, c] : cases) {
    INFO(name);
    CHECK(seen[name] == c.expected);
    CHECK(exit_of[name] == (c.crash == "exit 1" ? "1" : c.crash == "exit 0" ? "0" : "SIGSEGV"));
  }
  CHECK(failure_of["Exit1No"] == "exited with code 1 (restart policy: no)");
  CHECK(failure_of["SegvNo"] == "exited with signal SIGSEGV (restart policy: no)");
}

TEST_CASE("restarts back off exponentially, reset after a stable run, and stop at the limit",
          "[supervisor]") {
  TempDir root;
  // Runs 1-3 fail at once; run 4 lasts longer than reset_after, then fails; from run 5
  // on every run fails at once until the retry limit. reset_after is far above what a
  // failing run takes on a loaded machine, so only run 4 counts as stable.
  add_module(root, "Flaky",
             "command: os/linux/programs/run\n"
             "restart: {policy: on-failure, backoff: {min: 40ms, max: 100ms, factor: 2},"
             " reset_after: 2s, retries: 3}\n");
  add_script(root, "modules/system/Flaky/os/linux/programs/run",
             "n=$(cat \"$HUB_DATA_DIR/runs\" 2>/dev/null || echo 0); n=$((n+1))\n"
             "echo $n > \"$HUB_DATA_DIR/runs\"\n"
             "[ $n -eq 1 ] && read go < \"$HUB_DATA_DIR/go\"\n"
             "[ $n -eq 4 ] && sleep 2.5\n"
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
  CHECK(read_file(root.path() / "data/Flaky/runs") == "7\n");
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
  const int child = std::stoi(read_file(root.path() / "data/Stubborn/child"));
  const int grandchild = std::stoi(read_file(root.path() / "data/Stubborn/grandchild"));
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
  CHECK(
      read_file(root.path() / "var/log/hub/hubd.log").find("did not stop within 300 ms: SIGKILL") !=
      std::string::npos);
}

TEST_CASE("a dependent starts only once its dependency said it is ready", "[supervisor]") {
  TempDir root;
  add_module(root, "Db", "command: os/linux/programs/run\nready: {notify: true, timeout: 10s}\n");
  // Ready only when the test says so.
  add_script(root, "modules/system/Db/os/linux/programs/run",
             "read go < \"$HUB_DATA_DIR/go\"; echo ready >&3; exec sleep 1000\n");
  fs::create_directories(root.path() / "data/Db");
  REQUIRE(::mkfifo((root.path() / "data/Db/go").c_str(), 0600) == 0);
  add_module(root, "App", "command: /bin/sleep\nargs: ['1000']\n", "Db\n");

  ChildProcess hubd(HUBD_PATH, {"--root", root.path()});
  REQUIRE(hubd.wait_stderr("service Db started"));
  // Db runs, but is not ready: App has not been started.
  ChildProcess tap(BUS_TAP_PATH, {"--root", root.path(), "-C", "1", "-W", "10", "Db/started"});
  REQUIRE(tap.wait_exit() == 0);
  std::ofstream(root.path() / "data/Db/go") << "go\n";
  REQUIRE(hubd.wait_stderr("hub is up"));
  ChildProcess order(BUS_TAP_PATH, {"--root", root.path(), "-C", "3", "-W", "10", "Db/started",
                                    "Db/ready", "App/started"});
  REQUIRE(order.wait_exit() == 0);
  const auto lines = order.stdout_lines();
  REQUIRE(lines.size() == 3);
  std::vector<uint64_t> seqs;
  for (const auto& line : lines) seqs.push_back(std::stoull(line.substr(0, line.find(' '))));
  CHECK(lines[1].find("Db/ready") != std::string::npos);
  CHECK(seqs[0] < seqs[1]);
  CHECK(seqs[1] < seqs[2]);  // App started after Db/ready
  hubd.signal(SIGTERM);
  CHECK(hubd.wait_exit() == 0);
}

TEST_CASE("a service that never says it is ready is stopped and counts as a failed run",
          "[supervisor]") {
  TempDir root;
  add_module(root, "Mute",
             "command: /bin/sleep\nargs: ['1000']\nready: {notify: true, timeout: 200ms}\n"
             "stop: {grace: 1s}\nrestart: {policy: on-failure, retries: 0}\n");
  add_module(root, "NeedsMute", "", "Mute\n");
  ChildProcess hubd(HUBD_PATH, {"--root", root.path()});
  REQUIRE(hubd.wait_stderr("hub is up"));
  ChildProcess tap(BUS_TAP_PATH, {"--root", root.path(), "-C", "2", "-W", "10", "Mute/failed",
                                  "NeedsMute/failed"});
  REQUIRE(tap.wait_exit() == 0);
  const auto lines = tap.stdout_lines();
  REQUIRE(lines.size() == 2);
  CHECK(lines[0].find("not ready within 200 ms") != std::string::npos);
  CHECK(lines[1].find("dependency Mute did not start") != std::string::npos);
  hubd.signal(SIGTERM);
  CHECK(hubd.wait_exit() == 0);
}

TEST_CASE("a service writing 50 MB at full speed loses no line, its log rotates by size",
          "[supervisor]") {
  TempDir root;
  add_module(root, "Chatty",
             "command: os/linux/programs/run\nready: {notify: true, timeout: 60s}\n"
             "log: {max_size: 8MiB, keep: 10}\n");
  // 500,000 numbered lines of 100 bytes, then "done"; ready once all is written.
  add_script(root, "modules/system/Chatty/os/linux/programs/run",
             "awk 'BEGIN { for (i = 1; i <= 500000; i++) printf \"%09d %089d\\n\", i, 0 }'\n"
             "echo done; echo ready >&3; exec sleep 1000\n");
  auto hub = std::make_unique<RunningHub>(root);  // up once Chatty is ready
  REQUIRE(hub->stop() == 0);                      // drains the output pipe before exiting

  std::vector<fs::path> files;
  for (int i = 10; i >= 1; --i) {
    const fs::path f = root.path() / ("var/log/hub/Chatty.log." + std::to_string(i));
    if (fs::exists(f)) files.push_back(f);
  }
  files.push_back(root.path() / "var/log/hub/Chatty.log");
  CHECK(files.size() == 6);  // 50 MB in files of 8 MiB
  int64_t expected = 1, wrong = 0;
  bool done = false;
  for (const auto& f : files) {
    CHECK(fs::file_size(f) <= 8 * 1024 * 1024 + 100);
    std::ifstream in(f);
    for (std::string line; std::getline(in, line);) {
      if (line == "done") {
        done = true;
        continue;
      }
      if (line.size() != 99 || std::stoll(line.substr(0, 9)) != expected) ++wrong;
      ++expected;
    }
  }
  CHECK(wrong == 0);  // every line whole, in order, none missing
  CHECK(expected == 500001);
  CHECK(done);
}

TEST_CASE("a service runs in its workspace with the environment, config and links it needs",
          "[supervisor]") {
  TempDir root;
  add_module(root, "Probe",
             "command: os/linux/programs/run\nargs: ['one', 'two words']\n"
             "env: {GREETING: hello}\nready: {notify: true}\n"
             "volumes: [{source: shared/media, target: media}]\n"
             "limits: {open_files: 64, address_space: 1GiB, cpu_seconds: 3600, nice: 5}\n");
  root.write("config/site/modules/Probe/probe.yml", "colour: red\n");
  add_script(root, "modules/system/Probe/os/linux/programs/run",
             "out=\"$HUB_DATA_DIR/facts\"\n"
             "{ echo \"args=$1|$2\"; echo \"cwd=$(pwd)\"; env | grep -E '^(HUB_|GREETING)' | sort\n"
             "  echo \"nofile=$(ulimit -n)\"; echo \"as=$(ulimit -v)\"; echo \"cpu=$(ulimit -t)\"\n"
             "  echo \"nice=$(cut -d' ' -f19 /proc/self/stat)\"\n"
             "  echo \"config=$(cat etc/hub/service.yml)\"\n"
             "  echo \"db=$(readlink var/db/hub)\"; echo \"log=$(readlink var/log/hub)\"\n"
             "  echo \"media=$(readlink media)\"\n"
             "  echo \"fds=$(ls /proc/self/fd | tr '\\n' ' ')\"\n"
             "} > \"$out\"\n"
             "echo ready >&3; exec sleep 1000\n");
  RunningHub hub(root);  // up once Probe is ready, so the facts are written
  const std::string facts = read_file(root.path() / "data/Probe/facts");
  const std::string ws = (root.path() / "var/run/hub/services/Probe").string();
  CHECK(facts.find("args=one|two words\n") != std::string::npos);
  CHECK(facts.find("cwd=" + ws + "\n") != std::string::npos);
  for (const std::string& line : std::vector<std::string>{
           "GREETING=hello",
           "HUB_MODE=native",
           "HUB_SERVICE=Probe",
           "HUB_INSTANCE=Probe",
           "HUB_MODULE=Probe",
           "HUB_NOTIFY_FD=3",
           "HUB_WORKSPACE=" + ws,
           "HUB_CONFIG_FILE=" + ws + "/etc/hub/service.yml",
           "HUB_CREDENTIAL_FILE=" + ws + "/etc/hub/credential",
           "HUB_BUS_INGEST=ipc://" + (root.path() / "var/run/hub/ingest.sock").string(),
           "HUB_BUS_EVENTS=ipc://" + (root.path() / "var/run/hub/events.sock").string(),
           "HUB_ROOT=" + root.path().string(),
           "nofile=64",
           "as=1048576",
           "cpu=3600",
           "nice=5",
           "config=colour: red",
           "db=" + (root.path() / "data/Probe").string(),
           "log=" + (root.path() / "var/log/hub/services/Probe").string(),
           "media=" + (root.path() / "shared/media").string()}) {
    CHECK(facts.find(line + "\n") != std::string::npos);
  }
  // Only stdin, stdout, stderr, the readiness pipe, and the descriptor `ls` itself opens.
  CHECK(facts.find("fds=0 1 2 3 4 \n") != std::string::npos);
  struct stat st {};
  REQUIRE(::stat((ws + "/etc/hub/credential").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  const std::string credential = read_file(ws + "/etc/hub/credential");
  CHECK(credential.rfind("Probe:", 0) == 0);
}

TEST_CASE("a service that cannot be started fails at once with the reason, and is not retried",
          "[supervisor]") {
  TempDir root;
  add_module(root, "NoInterp", "command: os/linux/programs/run\n");
  root.write("modules/system/NoInterp/os/linux/programs/run", "#!/nonexistent/interpreter\n");
  fs::permissions(root.path() / "modules/system/NoInterp/os/linux/programs/run", fs::perms(0755));
  add_module(root, "TooMany",
             "command: /bin/sleep\nargs: ['1000']\n"
             "limits: {open_files: 1099511627776}\n");
  add_module(root, "Missing", "command: not-a-program-anywhere\n");
  RunningHub hub(root);
  std::map<std::string, std::string> reasons;
  for (const std::string name : {"NoInterp", "TooMany", "Missing"}) {
    auto sub = hub.subscribe({name + "/failed", name + "/restarting"}, true);
    auto failed = sub.next(20s);
    REQUIRE(failed);
    CHECK(std::string(failed->topic()) == name + "/failed");
    reasons[name] = json_field(failed->payload(), "reason");
  }
  CHECK_THAT(reasons["NoInterp"], Catch::Contains("its #! interpreter"));
  CHECK_THAT(reasons["TooMany"], Catch::Contains("limits.open_files: Operation not permitted"));
  CHECK_THAT(reasons["Missing"],
             Catch::Contains("not-a-program-anywhere: not found on the service's PATH"));
  // No zombie is left behind by the failed exec (children are listed per forking thread).
  int children = 0;
  for (const auto& task :
       fs::directory_iterator("/proc/" + std::to_string(hub.process().pid()) + "/task")) {
    std::ifstream list(task.path() / "children");
    for (std::string pid; list >> pid; ++children) {
      CHECK(read_file("/proc/" + pid + "/stat").find(") Z ") == std::string::npos);
    }
  }
  CHECK(children == 0);  // none of the three is running
}
