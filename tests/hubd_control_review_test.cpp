// The control plane as a hostile operator, and a module's own credential, meet it: what
// the API's checks let through, what a reload and a SIGHUP storm do, what inspect says
// right after hubd's start.
#include <chrono>
#include <csignal>
#include <thread>

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

// The API's answer to `request` as `who`: the result, or "error: " and why.
std::string answer_as(const TempDir& root, const Credential& who, const std::string& request) {
  zmq::context_t ctx(1);
  ApiClient client(ctx, ipc_endpoint(BusPaths::for_root(root.path()).api_socket), who);
  auto result = client.call(request, 30s);
  return result ? *result : "error: " + result.error();
}

std::string answer(const TempDir& root, const std::string& request) {
  return answer_as(root, admin_credential(root), request);
}

// The module's entry in inspect's "modules" (a flat object), or empty.
std::string module_entry(const TempDir& root, const std::string& name) {
  const std::string inspect = answer(root, R"({"method":"inspect"})");
  const size_t at = inspect.find("{\"name\":\"" + name + "\",\"level\"");
  if (at == std::string::npos) return "";
  return inspect.substr(at, inspect.find('}', at) - at + 1);
}

// Whether instance `instance` has a process, as inspect says.
bool running(const TempDir& root, const std::string& instance) {
  const std::string inspect = answer(root, R"({"method":"inspect"})");
  const size_t at = inspect.find("\"instance\":\"" + instance + "\"");
  if (at == std::string::npos) return false;
  const std::string one = inspect.substr(at, inspect.find('}', at) - at);
  return one.find("\"pid\":") != std::string::npos;
}

const char* const kSleeper = "command: /bin/sleep\nargs: ['1000']\nstop: {grace: 2s}\n";

}  // namespace

TEST_CASE("review: a module's credential cannot start every module through \"all\"", "[review]") {
  TempDir root;
  add_module(root, "Svc", kSleeper);
  add_module(root, "Other", kSleeper);
  RunningHub hub(root);
  REQUIRE(answer(root, R"({"method":"stop","name":"Other"})") == "{}");
  REQUIRE_FALSE(running(root, "Other"));
  auto svc = read_credential_file(hub.layout().script_credential_file("Svc"));
  REQUIRE(svc);
  // Authorized as a start of one of its own instances, carried out as "start all".
  const std::string got =
      answer_as(root, *svc, R"({"method":"start","instance":"Svc.x","all":true})");
  CHECK_THAT(got, Catch::StartsWith("error: "));
  CHECK_FALSE(running(root, "Other"));  // the administrator's stop sticks
}

TEST_CASE("review: a module called all cannot be told from hubctl's all", "[review]") {
  TempDir root;
  add_module(root, "all", kSleeper);
  add_module(root, "Other", kSleeper);
  RunningHub hub(root);
  // `hubctl stop all` stops every module, never the module "all": the name must be refused.
  CHECK_THAT(module_entry(root, "all"), Catch::Contains("\"state\":\"rejected\""));
}

TEST_CASE("review: inspect gives a held module's reason right after hubd's start", "[review]") {
  TempDir root;
  add_module(root, "Alpha", kSleeper);
  add_module(root, "Beta", kSleeper, "Alpha:1\n");  // the last to be considered
  root.write("var/db/hub/modules-disabled", "Alpha\n");
  RunningHub hub(root);
  const std::string beta = module_entry(root, "Beta");
  CHECK_THAT(beta, Catch::Contains("\"state\":\"stopped\""));
  CHECK_THAT(beta, Catch::Contains("\"reason\":\"dependency Alpha is disabled\""));
}

TEST_CASE("review: a deadline far in the future is not taken for one in the past", "[review]") {
  TempDir root;
  RunningHub hub(root);
  // Year 2262 and later: beyond the clock's nanoseconds, still a whole number of 16 digits.
  CHECK_THAT(answer(root, R"({"method":"inspect","deadline_ms":9223372036854776})"),
             Catch::StartsWith("{\"hub\":"));
  CHECK_THAT(answer(root, R"({"method":"inspect","deadline_ms":999999999999999999})"),
             Catch::StartsWith("{\"hub\":"));
}

TEST_CASE("review: a reload that restarts a module stops its dependents first", "[review]") {
  TempDir root;
  add_module(root, "Timer", kSleeper);
  add_module(root, "Heartbeat", kSleeper, "Timer:1\n");
  RunningHub hub(root);
  auto sub = hub.subscribe({"+/stopping", "+/started"});
  add_module(root, "Timer", "command: /bin/sleep\nargs: ['1001']\nstop: {grace: 2s}\n");
  const std::string reloaded = answer(root, R"({"method":"reload"})");
  INFO(reloaded);
  const auto first = next_line(sub, 20s);
  // Stopping Timer while Heartbeat runs breaks "stopping a module stops its dependents first".
  CHECK_THAT(first, Catch::StartsWith("Heartbeat/stopping ") &&
                        Catch::Contains("\"reason\":\"Timer is restarted\""));
  // and it comes back after Timer
  CHECK_THAT(next_line(sub, 20s), Catch::StartsWith("Timer/stopping "));
  CHECK_THAT(next_line(sub, 20s), Catch::StartsWith("Timer/started "));
  CHECK_THAT(next_line(sub, 20s), Catch::StartsWith("Heartbeat/started "));
}

TEST_CASE("review: a SIGHUP storm does not queue a reload per signal", "[review]") {
  TempDir root;
  // Not up: every reload tries it again, for a second.
  add_module(root, "Slow", "");
  add_script(root, "modules/system/Slow/control/startup/run",
             std::string(HUBCTL_PATH) + " publish Slow/began\nsleep 1\nexit 1\n");
  RunningHub hub(root);
  auto sub = hub.subscribe({"Hub/reload", "Slow/began"});
  hub.process().signal(SIGHUP);
  REQUIRE(next_on(sub, "Slow/began", 20s));  // the first reload is under way
  // The storm, paced so that each signal is read on its own (one sent while another is
  // pending merges with it, and would test nothing).
  for (int i = 0; i < 10; ++i) {
    hub.process().signal(SIGHUP);
    std::this_thread::sleep_for(30ms);
  }
  REQUIRE(next_on(sub, "Hub/reload", 20s));  // the one under way
  REQUIRE(next_on(sub, "Hub/reload", 20s));  // one for the storm
  CHECK_FALSE(next_on(sub, "Hub/reload", 3s));
}

TEST_CASE("review: \"all\" with a name is refused, not read as one or the other", "[review]") {
  TempDir root;
  add_module(root, "Svc", kSleeper);
  add_module(root, "Other", kSleeper);
  RunningHub hub(root);
  auto sub = hub.subscribe({"+/stopping"});
  // restart reads it as every module, start and stop as the one named.
  CHECK_THAT(answer(root, R"({"method":"restart","name":"Svc","all":true})"),
             Catch::StartsWith("error: ") && Catch::Contains("\"all\""));
  CHECK_THAT(answer(root, R"({"method":"stop","name":"Svc","all":true})"),
             Catch::StartsWith("error: ") && Catch::Contains("\"all\""));
  CHECK_THAT(answer(root, R"({"method":"start","name":"Svc","instance":"x","all":true})"),
             Catch::StartsWith("error: ") && Catch::Contains("\"all\""));
  CHECK(next_line(sub, 1s).empty());  // nothing was stopped
}
