// hubd's retained state as a late subscriber reads it: each instance's truth, no stale
// rejection next to a load, cleared by an empty retained publish, and still there after a
// restart of hubd (rebuilt from the journal).
#include <catch2/catch.hpp>

#include "bus/bus_paths.h"
#include "hub/api_client.h"
#include "support/bus_fixture.h"
#include "support/running_hub.h"

using namespace hub;
using namespace hub::test;
using namespace std::chrono_literals;

namespace {

// The retained events of `patterns` a subscriber joining now gets, as "TOPIC PAYLOAD".
std::vector<std::string> retained_now(RunningHub& hub, std::vector<std::string> patterns) {
  auto late = hub.subscribe(std::move(patterns), /*retained=*/true);
  return hub::test::retained_now(late);
}

std::vector<std::string> with_prefix(const std::vector<std::string>& lines,
                                     const std::string& prefix) {
  std::vector<std::string> out;
  for (const auto& line : lines) {
    if (line.rfind(prefix, 0) == 0) out.push_back(line);
  }
  return out;
}

std::string api_call(const TempDir& root, const std::string& request) {
  zmq::context_t ctx(1);
  ApiClient api(ctx, ipc_endpoint(BusPaths::for_root(root.path()).api_socket),
                admin_credential(root));
  auto reply = api.call(request, 20s);
  INFO(request);
  REQUIRE(reply);
  return *reply;
}

int hubctl(const TempDir& root, std::vector<std::string> args) {
  args.insert(args.begin(), {"--root", root.path().string()});
  ChildProcess run(HUBCTL_PATH, args);
  return run.wait_exit().value_or(-1);
}

}  // namespace

TEST_CASE("after a dynamic instance stops, the retained state still says its module runs",
          "[hubd][retained]") {
  TempDir root;
  add_module(root, "Svc", "command: /bin/sleep\nargs: ['1000']\n");
  RunningHub hub(root);
  auto watch = hub.subscribe({"Svc/#"}, /*retained=*/true);
  REQUIRE(next_on(watch, "Svc/started"));
  api_call(root, R"({"method":"start","name":"Svc","instance":"fast"})");
  api_call(root, R"({"method":"stop","instance":"Svc.fast"})");
  const auto state = retained_now(hub, {"Svc/#"});
  INFO(::Catch::Detail::stringify(state));
  const auto started = with_prefix(state, "Svc/started ");
  REQUIRE(started.size() == 1);
  CHECK(json_field(started[0], "instance") == "Svc");
  const auto stopped = with_prefix(state, "Svc/stopped ");
  REQUIRE(stopped.size() == 1);
  CHECK(json_field(stopped[0], "instance") == "Svc.fast");
}

TEST_CASE("a module loaded after its rejection is not shown rejected any more",
          "[hubd][retained]") {
  TempDir root;
  add_module(root, "Conf", "", "", "site");
  root.write("config/site/modules/Conf/x.yml", "key: [1,\n");
  RunningHub hub(root);
  auto watch = hub.subscribe({"Conf/#"}, /*retained=*/true);
  REQUIRE(next_on(watch, "Conf/rejected"));
  root.write("config/site/modules/Conf/x.yml", "key: [1]\n");
  api_call(root, R"({"method":"reload"})");
  REQUIRE(next_on(watch, "Conf/started"));
  const auto state = retained_now(hub, {"Conf/#"});
  INFO(::Catch::Detail::stringify(state));
  CHECK(with_prefix(state, "Conf/loaded ").size() == 1);
  CHECK(with_prefix(state, "Conf/rejected ").empty());
}

TEST_CASE("retained events survive a restart of hubd; an empty retained publish clears one",
          "[hubd][retained][journal]") {
  TempDir root;
  add_module(root, "Svc", "command: /bin/sleep\nargs: ['1000']\n");
  {
    RunningHub hub(root);
    REQUIRE(hubctl(root, {"publish", "--retain", "Site/kept", R"({"v":1})"}) == 0);
    REQUIRE(hubctl(root, {"publish", "--retain", "Site/cleared", R"({"v":2})"}) == 0);
    REQUIRE(hubctl(root, {"publish", "--retain", "Site/cleared", ""}) == 0);
    CHECK(retained_now(hub, {"Site/#"}) == std::vector<std::string>{R"(Site/kept {"v":1})"});
    REQUIRE(hub.stop() == 0);
  }
  // Svc is gone when hubd comes back: what the last hubd said of it goes with it.
  std::filesystem::remove_all(root.path() / "modules/system/Svc");
  add_module(root, "Other", "");
  RunningHub hub(root);
  CHECK(retained_now(hub, {"Site/#"}) == std::vector<std::string>{R"(Site/kept {"v":1})"});
  const auto svc = retained_now(hub, {"Svc/#"});
  INFO(::Catch::Detail::stringify(svc));
  CHECK(svc.empty());
  CHECK(with_prefix(retained_now(hub, {"Other/#"}), "Other/loaded ").size() == 1);
}
