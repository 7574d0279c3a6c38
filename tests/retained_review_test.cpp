// A review of retained state and strict input: each case shows a defect found, and passes
// once it is fixed.
#include <catch2/catch.hpp>

#include <csignal>
#include <filesystem>

#include "bus/bus_paths.h"
#include "bus/journal.h"
#include "core/api/api_fields.h"
#include "core/api/api_server.h"
#include "hub/api_client.h"
#include "support/bus_fixture.h"
#include "support/running_hub.h"

using namespace hub;
using namespace std::chrono_literals;
using hub::test::BusFixture;
using hub::test::HubPublisher;
using hub::test::retained_now;
using hub::test::TempDir;

namespace {

std::vector<std::string> retained_now(hub::test::RunningHub& hub,
                                      std::vector<std::string> patterns) {
  auto late = hub.subscribe(std::move(patterns), /*retained=*/true);
  return hub::test::retained_now(late);
}

PublishOptions retain() {
  PublishOptions o;
  o.retain = true;
  return o;
}

std::string api_call(const TempDir& root, const std::string& request) {
  zmq::context_t ctx(1);
  ApiClient api(ctx, ipc_endpoint(BusPaths::for_root(root.path()).api_socket),
                hub::test::admin_credential(root));
  auto reply = api.call(request, 20s);
  INFO(request);
  REQUIRE(reply);
  return *reply;
}

}  // namespace

// A hubd that crashed published no NAME/stopped: the journal's last word on its instances
// is started/ready. None of its processes runs under the next hubd, so a late subscriber
// must not read that they run (a dynamic instance is never started again: forever).
TEST_CASE("review: after a crash the rebuilt state does not say the dead run's instances run",
          "[review][retained][journal]") {
  TempDir dir;
  JournalOptions o;
  o.dir = dir.path() / "journal";
  {
    JournalRecovery recovery;
    auto journal = Journal::open(o, recovery);
    REQUIRE(journal);
    BrokerOptions options;
    options.journal = journal->get();
    BusFixture bus(options);
    HubPublisher hub(bus);
    hub("Svc/loaded", R"({"name":"Svc"})");
    hub("Svc/started", R"({"name":"Svc","instance":"Svc","pid":10})");
    hub("Svc/ready", R"({"name":"Svc","instance":"Svc","pid":10})");
    hub("Svc/started", R"({"name":"Svc","instance":"Svc.fast","pid":11})");
    hub("Svc/started", R"({"name":"Svc","instance":"Svc.gone","pid":12})");
    hub("Svc/stopped", R"({"name":"Svc","instance":"Svc.gone"})");
    bus.stop();  // the crash: no Svc/stopped for Svc and Svc.fast
  }
  JournalRecovery recovery;
  auto journal = Journal::open(o, recovery);
  REQUIRE(journal);
  BrokerOptions options;
  options.journal = journal->get();
  options.last_seq = recovery.next_after();
  BusFixture bus(options);
  CHECK(retained_now(bus, {"Svc/#"}) ==
        std::vector<std::string>{R"(Svc/loaded {"name":"Svc"})",
                                 R"(Svc/stopped {"name":"Svc","instance":"Svc.gone"})"});
}

// PROTOCOL 7: the Hub's events (Hub/...) are reserved. Before the Hub first publishes one,
// the administrator could retain a forged one that late subscribers read as the Hub's state.
TEST_CASE("review: the administrator cannot retain an event on a Hub/ topic",
          "[review][retained]") {
  BusFixture bus;
  auto admin = bus.publisher();
  auto delivered = admin.publish_delivered("Hub/reload", R"({"added":["Evil"]})", 5s, retain());
  REQUIRE(delivered);
  CHECK_THAT(delivered->not_retained, Catch::Contains("Hub"));
  CHECK(retained_now(bus, {"Hub/#"}).empty());
}

// A copy that stops being shadowed (the winner removed) is not shadowed any more, but the
// retained NAME/shadowed still says it is, for good (and now across restarts too).
TEST_CASE("review: NAME/shadowed does not outlive the shadowing", "[review][retained]") {
  TempDir root;
  hub::test::add_module(root, "Twice", "", "", "system");
  hub::test::add_module(root, "Twice", "", "", "site");
  hub::test::RunningHub hub(root);
  REQUIRE(retained_now(hub, {"Twice/shadowed"}).size() == 1);
  std::filesystem::remove_all(root.path() / "modules/system/Twice");
  auto sub = hub.subscribe({"Hub/reload"});
  api_call(root, R"({"method":"reload"})");
  REQUIRE(hub::test::next_on(sub, "Hub/reload"));
  CHECK(retained_now(hub, {"Twice/shadowed"}).empty());
}

// A module removed from the tree by a reload is no longer loaded, yet its retained
// NAME/loaded stays (and a rejected one's NAME/rejected), for good.
TEST_CASE("review: a module removed by a reload is not shown loaded or rejected",
          "[review][retained]") {
  TempDir root;
  hub::test::add_module(root, "Gone", "", "", "site");
  hub::test::add_module(root, "Bad", "", "", "site");
  root.write("config/site/modules/Bad/x.yml", "key: [1,\n");
  hub::test::RunningHub hub(root);
  REQUIRE(retained_now(hub, {"Gone/loaded"}).size() == 1);
  REQUIRE(retained_now(hub, {"Bad/rejected"}).size() == 1);
  std::filesystem::remove_all(root.path() / "modules/site/Gone");
  std::filesystem::remove_all(root.path() / "modules/site/Bad");
  auto sub = hub.subscribe({"Hub/reload"});
  api_call(root, R"({"method":"reload"})");
  REQUIRE(hub::test::next_on(sub, "Hub/reload"));
  const auto gone = retained_now(hub, {"Gone/#", "Bad/#"});
  INFO(::Catch::Detail::stringify(gone));
  for (const auto& line : gone) {
    CHECK(line.rfind("Gone/loaded ", 0) != 0);
    CHECK(line.rfind("Bad/rejected ", 0) != 0);
  }
}

// Duplicate keys are refused in every reader and at the request's top level, but an
// object inside a request (start's "config", report's "stats") keeps the last silently.
TEST_CASE("review: a key given twice inside a request's object is a bad_request",
          "[review][api][fields]") {
  const auto check = [](const std::string& json) {
    const ApiRequest r = parse_api_request(json, "admin");
    return check_api_fields(r.method, r.body);
  };
  const Status config =
      check(R"({"method":"start","name":"Svc","instance":"x","config":{"rate":1,"rate":2}})");
  CHECK_FALSE(config);
  CHECK_THAT(config.message(), Catch::Contains("rate"));
  const Status deeper =
      check(R"({"method":"start","name":"Svc","instance":"x","config":{"a":{"b":1,"b":2}}})");
  CHECK_FALSE(deeper);
  CHECK_THAT(deeper.message(), Catch::Contains("b"));
  CHECK_FALSE(check(R"({"method":"report","stats":{"n":1,"n":2}})"));
  CHECK(check(
      R"({"method":"start","name":"Svc","instance":"x","config":{"a":{"b":1},"c":{"b":2}}})"));
}
