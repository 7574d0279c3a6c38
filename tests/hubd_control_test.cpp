// The control plane as an operator meets it through hubctl and the API: a start of what
// runs changes nothing, a refusal changes nothing, disable sticks across reloads and hubd
// restarts, dependents follow their dependency both ways, and every failure says why.
#include <catch2/catch.hpp>

#include "bus/api_protocol.h"
#include "bus/bus_paths.h"
#include "bus/credentials.h"
#include "hub/api_client.h"
#include "support/running_hub.h"

using namespace hub;
using namespace hub::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

struct Run {
  int exit = -1;
  std::string out;
  std::string err;
};

Run hubctl(const TempDir& root, std::vector<std::string> args) {
  args.insert(args.begin(), {"--root", root.path().string()});
  ChildProcess p(HUBCTL_PATH, args);
  Run r;
  r.exit = p.wait_exit().value_or(-1);
  for (const auto& line : p.stdout_lines()) r.out += line + "\n";
  r.err = p.stderr_text();
  return r;
}

// The API's answer to `request`, as the administrator: the result, or the error.
Result<std::string> call(const TempDir& root, const std::string& request) {
  zmq::context_t ctx(1);
  ApiClient client(ctx, ipc_endpoint(BusPaths::for_root(root.path()).api_socket),
                   admin_credential(root));
  return client.call(request, 30s);
}

// The result's text, or "error: " and why.
std::string answer(const TempDir& root, const std::string& request) {
  auto result = call(root, request);
  return result ? *result : "error: " + result.error();
}

// The pid of instance `instance` in inspect, or 0.
int64_t pid_of(const TempDir& root, const std::string& instance) {
  auto inspect = call(root, R"({"method":"inspect"})");
  REQUIRE(inspect);
  const std::string key = "\"instance\":\"" + instance + "\"";
  const size_t at = inspect->find(key);
  if (at == std::string::npos) return 0;
  const std::string one = inspect->substr(at, inspect->find('}', at) - at);
  return one.find("\"pid\":") == std::string::npos ? 0 : json_int("{" + one + "}", "pid");
}

// The module's entry in inspect's "modules" (a flat object), or empty.
std::string module_entry(const TempDir& root, const std::string& name) {
  auto inspect = call(root, R"({"method":"inspect"})");
  REQUIRE(inspect);
  const size_t at = inspect->find("{\"name\":\"" + name + "\",\"level\"");
  if (at == std::string::npos) return "";
  return inspect->substr(at, inspect->find('}', at) - at + 1);
}

const char* const kSleeper = "command: /bin/sleep\nargs: ['1000']\nstop: {grace: 2s}\n";

}  // namespace

TEST_CASE("starting what runs is a no-op that says so, and replaces it only when asked",
          "[hubd][control]") {
  TempDir root;
  add_module(root, "Svc", kSleeper);
  RunningHub hub(root);
  auto sub = hub.subscribe({"Svc/exited", "Svc/stopped"});

  REQUIRE(hubctl(root, {"start", "Svc.x"}).exit == 0);
  const int64_t pid = pid_of(root, "Svc.x");
  REQUIRE(pid > 0);
  const Run again = hubctl(root, {"start", "Svc.x"});
  CHECK(again.exit == 0);
  CHECK_THAT(again.out, Catch::Contains("Svc.x is already running"));
  // The SDK's start_instance sends this very request.
  CHECK(answer(root, R"({"method":"start","name":"Svc","instance":"x"})") ==
        R"({"instance":"Svc.x","already":"running"})");
  CHECK(answer(root, R"({"method":"start","name":"Svc"})") == R"({"already":"running"})");
  CHECK(pid_of(root, "Svc.x") == pid);  // still the same process

  // A refused request changes nothing either.
  CHECK(hubctl(root, {"start", "Svc.bad!"}).exit == 1);
  CHECK(pid_of(root, "Svc.x") == pid);

  REQUIRE(hubctl(root, {"start", "--replace", "Svc.x"}).exit == 0);
  const auto exited = next_on(sub, "Svc/exited");
  REQUIRE(exited);
  CHECK(json_field(exited->payload(), "instance") == "Svc.x");
  const int64_t replaced = pid_of(root, "Svc.x");
  CHECK(replaced > 0);
  CHECK(replaced != pid);
}

TEST_CASE("disable keeps a module down across reload and hubd restart, and enable brings it back",
          "[hubd][control]") {
  TempDir root;
  add_module(root, "Probe", kSleeper);
  {
    RunningHub hub(root);
    const Run disabled = hubctl(root, {"disable", "Probe"});
    CHECK(disabled.exit == 0);
    CHECK(disabled.out == "disabled Probe\n");
    CHECK(pid_of(root, "Probe") == 0);
    CHECK_THAT(module_entry(root, "Probe"), Catch::Contains("\"enabled\":false"));
    CHECK(hubctl(root, {"reload"}).exit == 0);  // down on purpose: not a failure
    CHECK(pid_of(root, "Probe") == 0);
    const Run status = hubctl(root, {"status", "Probe"});
    CHECK(status.exit == 1);
    CHECK_THAT(status.out, Catch::Matches("Probe +DISABLED\n"));
    CHECK(hubctl(root, {"start", "Probe"}).exit == 1);  // disabled: enable first
    CHECK(pid_of(root, "Probe") == 0);
  }
  RunningHub hub(root);  // a hubd restart
  CHECK(pid_of(root, "Probe") == 0);
  CHECK_THAT(module_entry(root, "Probe"), Catch::Contains("\"enabled\":false"));
  const Run enabled = hubctl(root, {"enable", "Probe"});
  CHECK(enabled.exit == 0);
  CHECK(enabled.out == "enabled Probe\n");
  CHECK(pid_of(root, "Probe") > 0);
  CHECK_THAT(module_entry(root, "Probe"), !Catch::Contains("\"enabled\":false"));
}

TEST_CASE("a list of disabled modules hubd cannot read is told, and never overwritten",
          "[hubd][control]") {
  TempDir root;
  add_module(root, "Probe", kSleeper);
  add_module(root, "Other", kSleeper);
  // Not a regular file: hubd cannot tell what it holds.
  const auto list = root.path() / "var/db/hub/modules-disabled";
  fs::create_directories(list / "Probe");
  RunningHub hub(root);
  CHECK(pid_of(root, "Probe") > 0);  // nothing kept down by a guess
  const Run disabled = hubctl(root, {"disable", "Other"});
  CHECK(disabled.exit == 1);
  CHECK_THAT(disabled.err, Catch::Contains("modules-disabled"));
  CHECK(pid_of(root, "Other") > 0);  // refused: nothing changed
  CHECK(fs::is_directory(list / "Probe"));
  // Fixed by hand: the next reload reads it, and a disable is saved beside what it held.
  fs::remove_all(list);
  root.write("var/db/hub/modules-disabled", "Probe\n");
  CHECK(hubctl(root, {"reload"}).exit == 0);
  CHECK(hubctl(root, {"disable", "Other"}).exit == 0);
  CHECK(pid_of(root, "Other") == 0);
  CHECK(read_file(list) == "Other\nProbe\n");
}

TEST_CASE("stopping a module stops its dependents first, and they come back with it",
          "[hubd][control]") {
  TempDir root;
  add_module(root, "Timer", kSleeper);
  add_module(root, "Heartbeat", kSleeper, "Timer:1\n");
  add_module(root, "Pulse", kSleeper, "Heartbeat:1\n");  // through Heartbeat
  RunningHub hub(root);
  auto sub = hub.subscribe({"+/stopping"});

  REQUIRE(hubctl(root, {"stop", "Timer"}).exit == 0);
  std::vector<std::string> order;
  for (int i = 0; i < 3; ++i) {
    const auto e = sub.next(20s);
    REQUIRE(e);
    order.push_back(std::string(e->topic()) + " " + json_field(e->payload(), "reason"));
  }
  CHECK(order == std::vector<std::string>{"Pulse/stopping Timer stopped",
                                          "Heartbeat/stopping Timer stopped", "Timer/stopping "});
  CHECK(pid_of(root, "Heartbeat") == 0);
  CHECK_THAT(hubctl(root, {"status", "Heartbeat"}).out,
             Catch::Matches("Heartbeat +STOPPED +Timer stopped\n"));
  // Refused while Timer is down, and nothing changes.
  CHECK(hubctl(root, {"start", "Pulse"}).exit == 1);

  REQUIRE(hubctl(root, {"start", "Timer"}).exit == 0);
  CHECK(pid_of(root, "Heartbeat") > 0);
  CHECK(pid_of(root, "Pulse") > 0);

  // A restart takes them down and brings them back too.
  const int64_t before = pid_of(root, "Pulse");
  REQUIRE(hubctl(root, {"restart", "Timer"}).exit == 0);
  CHECK(pid_of(root, "Pulse") > 0);
  CHECK(pid_of(root, "Pulse") != before);
}

TEST_CASE("a module whose service fails for good takes its dependents down, saying why",
          "[hubd][control]") {
  TempDir root;
  add_module(root, "Timer",
             "command: /bin/sh\nargs: ['-c', 'while [ ! -e \"$HUB_DATA_DIR/die\" ]; do sleep "
             "0.05; done; exit 3']\nrestart: {policy: 'no'}\n");
  add_module(root, "Heartbeat", kSleeper, "Timer:1\n");
  RunningHub hub(root);
  auto sub = hub.subscribe({"Heartbeat/stopped"});
  root.write("data/Timer/die", "");
  const auto stopped = next_on(sub, "Heartbeat/stopped");
  REQUIRE(stopped);
  CHECK(json_field(stopped->payload(), "reason") == "Timer failed");
  const Run status = hubctl(root, {"status"});
  CHECK_THAT(status.out, Catch::Contains("exited with code 3 (restart policy: no)"));
  CHECK_THAT(module_entry(root, "Timer"),
             Catch::Contains(R"x("reason":"exited with code 3 (restart policy: no)")x"));

  std::filesystem::remove(root.path() / "data/Timer/die");
  REQUIRE(hubctl(root, {"start", "Timer"}).exit == 0);
  CHECK(pid_of(root, "Heartbeat") > 0);  // came back with it
}

TEST_CASE("start, stop and restart all", "[hubd][control]") {
  TempDir root;
  add_module(root, "Timer", kSleeper);
  add_module(root, "Heartbeat", kSleeper, "Timer:1\n");
  RunningHub hub(root);
  const Run stopped = hubctl(root, {"stop", "all"});
  CHECK(stopped.exit == 0);
  CHECK(stopped.out == "stopped Heartbeat, Timer\n");
  CHECK(pid_of(root, "Timer") == 0);
  CHECK(pid_of(root, "Heartbeat") == 0);
  const Run started = hubctl(root, {"start", "all"});
  CHECK(started.exit == 0);
  CHECK(started.out == "started Timer, Heartbeat\n");
  const int64_t timer = pid_of(root, "Timer");
  CHECK(timer > 0);
  CHECK(pid_of(root, "Heartbeat") > 0);
  const Run restarted = hubctl(root, {"restart", "all"});
  CHECK(restarted.exit == 0);
  CHECK(restarted.out == "stopped Heartbeat, Timer\nstarted Timer, Heartbeat\n");
  CHECK(pid_of(root, "Timer") != timer);
}

TEST_CASE("status gives a failure's reason, not how the process ended", "[hubd][control]") {
  TempDir root;
  add_module(root, "Mute",
             "command: /bin/sleep\nargs: ['1000']\nready: {notify: true, timeout: 300ms}\n"
             "restart: {policy: 'no'}\nstop: {grace: 1s}\n");
  RunningHub hub(root);
  const Run status = hubctl(root, {"status", "Mute"});
  CHECK(status.exit == 1);
  CHECK_THAT(status.out, Catch::Matches("Mute +FAILED +not ready within 300 ms.*\n"));
  CHECK_THAT(module_entry(root, "Mute"), Catch::Contains("\"reason\":\"not ready within 300 ms"));
}

TEST_CASE("reload prints what it did with reasons and exits 1 when a module is rejected",
          "[hubd][control]") {
  TempDir root;
  add_module(root, "Svc", kSleeper);
  RunningHub hub(root);
  const Run quiet = hubctl(root, {"reload"});
  CHECK(quiet.exit == 0);
  CHECK(quiet.out == "unchanged: Svc\n");
  add_module(root, "Bad", "command: /bin/sleep\nrestart: {policy: sometimes}\n");
  const Run troubled = hubctl(root, {"reload"});
  CHECK(troubled.exit == 1);
  CHECK_THAT(troubled.out, Catch::Contains("unchanged: Svc\n") &&
                               Catch::Contains("rejected: Bad: ") &&
                               Catch::Contains("restart.policy"));
  const Run json = hubctl(root, {"reload", "--json"});
  CHECK(json.exit == 1);
  CHECK_THAT(json.out, Catch::StartsWith("{\"added\":[]"));
  CHECK_THAT(module_entry(root, "Bad"), Catch::Contains("\"state\":\"rejected\""));
}
