// The retained store tells the truth (docs/PROTOCOL.md, section 7): the Hub's lifecycle
// state is kept per instance and drops what a newer event makes stale, nobody but the Hub
// replaces it, an empty retained publish clears its topic, and the retained events are
// rebuilt from the journal when the broker starts.
#include <catch2/catch.hpp>

#include "bus/journal.h"
#include "bus/retained_store.h"
#include "support/bus_fixture.h"

using namespace hub;
using namespace std::chrono_literals;
using hub::test::BusFixture;
using hub::test::HubPublisher;
using hub::test::retained_now;
using hub::test::TempDir;

namespace {

PublishOptions retain() {
  PublishOptions o;
  o.retain = true;
  return o;
}

}  // namespace

TEST_CASE("the Hub's lifecycle state is retained per instance", "[broker][retained]") {
  BusFixture bus;
  HubPublisher hub(bus);
  hub("Timer/started", R"({"name":"Timer","instance":"Timer","pid":1})");
  hub("Timer/started", R"({"name":"Timer","instance":"Timer.fast","pid":2})");
  hub("Timer/stopping", R"({"name":"Timer","instance":"Timer.fast"})", false);
  hub("Timer/stopped", R"({"name":"Timer","instance":"Timer.fast"})");
  // Timer runs; only Timer.fast stopped.
  CHECK(retained_now(bus, {"Timer/#"}) ==
        std::vector<std::string>{R"(Timer/started {"name":"Timer","instance":"Timer","pid":1})",
                                 R"(Timer/stopped {"name":"Timer","instance":"Timer.fast"})"});
}

TEST_CASE("a newer lifecycle event of an instance drops its stale state", "[broker][retained]") {
  BusFixture bus;
  HubPublisher hub(bus);
  SECTION("loaded clears rejected, and rejected (nothing kept running) clears loaded") {
    hub("Conf/rejected", R"({"name":"Conf","reason":"bad"})");
    hub("Conf/loaded", R"({"name":"Conf","version":"1.0.0"})");
    CHECK(retained_now(bus, {"Conf/#"}) ==
          std::vector<std::string>{R"(Conf/loaded {"name":"Conf","version":"1.0.0"})"});
    hub("Conf/rejected", R"({"name":"Conf","reason":"worse","kept_running":true})");
    CHECK(retained_now(bus, {"Conf/#"}).size() == 2);  // the old version still runs
    hub("Conf/rejected", R"({"name":"Conf","reason":"gone"})");
    CHECK(retained_now(bus, {"Conf/#"}) ==
          std::vector<std::string>{R"(Conf/rejected {"name":"Conf","reason":"gone"})"});
  }
  SECTION("a run: started and ready, then exited, failed, started again, stopped") {
    hub("Svc/loaded", R"({"name":"Svc"})");
    hub("Svc/failed", R"({"name":"Svc","reason":"an earlier run"})");  // about the module
    hub("Svc/started", R"({"name":"Svc","instance":"Svc","pid":1})");
    hub("Svc/ready", R"({"name":"Svc","instance":"Svc","pid":1})");
    CHECK(retained_now(bus, {"Svc/#"}) ==
          std::vector<std::string>{R"(Svc/loaded {"name":"Svc"})",
                                   R"(Svc/started {"name":"Svc","instance":"Svc","pid":1})",
                                   R"(Svc/ready {"name":"Svc","instance":"Svc","pid":1})"});
    hub("Svc/exited", R"({"name":"Svc","instance":"Svc","pid":1})", false);
    CHECK(retained_now(bus, {"Svc/#"}) == std::vector<std::string>{R"(Svc/loaded {"name":"Svc"})"});
    hub("Svc/failed", R"({"name":"Svc","instance":"Svc","reason":"gave up"})");
    hub("Svc/started", R"({"name":"Svc","instance":"Svc","pid":2})");
    CHECK(retained_now(bus, {"Svc/#"}) ==
          std::vector<std::string>{R"(Svc/loaded {"name":"Svc"})",
                                   R"(Svc/started {"name":"Svc","instance":"Svc","pid":2})"});
    hub("Svc/stopped", R"({"name":"Svc","instance":"Svc"})");
    CHECK(retained_now(bus, {"Svc/#"}) ==
          std::vector<std::string>{R"(Svc/loaded {"name":"Svc"})",
                                   R"(Svc/stopped {"name":"Svc","instance":"Svc"})"});
  }
}

TEST_CASE("the state of dynamic instances that ended is bounded per module", "[broker][retained]") {
  BusFixture bus;
  HubPublisher hub(bus);
  const size_t bound = RetainedStore::kMaxEndedInstancesPerModule;
  hub("Job/started", R"({"name":"Job","instance":"Job.running"})");
  for (size_t i = 0; i < bound + 5; ++i) {
    const std::string about = R"({"name":"Job","instance":"Job.)" + std::to_string(i) + "\"}";
    hub("Job/started", about);
    hub("Job/stopped", about);
  }
  const auto state = retained_now(bus, {"Job/#"});
  REQUIRE(state.size() == bound + 1);
  CHECK(state.front() == R"(Job/started {"name":"Job","instance":"Job.running"})");
  CHECK(state[1] == R"(Job/stopped {"name":"Job","instance":"Job.5"})");  // the oldest kept
}

TEST_CASE("only the Hub replaces the Hub's retained events", "[broker][retained]") {
  BusFixture bus;
  HubPublisher hub(bus);
  hub("Timer/started", R"({"name":"Timer","instance":"Timer"})");
  hub("Hub/startup", R"({"pid":1})");
  auto admin = bus.publisher();
  for (const char* topic : {"Timer/started", "Timer/stopped", "Hub/startup"}) {
    auto delivered = admin.publish_delivered(topic, "{}", 5s, retain());
    REQUIRE(delivered);
    CHECK_THAT(delivered->not_retained, Catch::Contains(topic));
    CHECK_THAT(delivered->not_retained, Catch::Contains("Hub"));
    auto cleared = admin.publish_delivered(topic, "", 5s, retain());
    REQUIRE(cleared);
    CHECK_FALSE(cleared->not_retained.empty());
  }
  CHECK(retained_now(bus) ==
        std::vector<std::string>{R"(Timer/started {"name":"Timer","instance":"Timer"})",
                                 R"(Hub/startup {"pid":1})"});
}

TEST_CASE("an empty retained publish clears its topic", "[broker][retained]") {
  BusFixture bus;
  const Credential sensor{"Sensor.1", "sensor-secret"};
  bus.credentials.add(sensor);
  auto publisher = bus.publisher(sensor);
  REQUIRE(publisher.publish_confirmed("Sensor/temp", R"({"c":20})", 5s, retain()));
  REQUIRE(publisher.publish_confirmed("Sensor/humidity", R"({"rh":40})", 5s, retain()));
  auto watcher = bus.subscribe({"Sensor/temp"});
  CHECK(watcher.next(2s));  // its retained event
  REQUIRE(publisher.publish_confirmed("Sensor/temp", "", 5s, retain()));
  auto clearing = watcher.next(5s);  // delivered, as MQTT does
  REQUIRE(clearing);
  CHECK(clearing->payload().empty());
  CHECK(retained_now(bus, {"Sensor/#"}) ==
        std::vector<std::string>{R"(Sensor/humidity {"rh":40})"});
  // Another module cannot clear it (nor publish its topics at all).
  const Credential other{"Other", "other-secret"};
  bus.credentials.add(other);
  auto intruder = bus.publisher(other);
  CHECK_FALSE(intruder.publish_confirmed("Sensor/humidity", "", 5s, retain()));
  CHECK(retained_now(bus, {"Sensor/#"}).size() == 1);
}

TEST_CASE("the retained events are rebuilt from the journal when the broker starts",
          "[broker][retained][journal]") {
  TempDir dir;
  JournalOptions o;
  o.dir = dir.path() / "journal";
  uint64_t last_seq = 0;
  {
    JournalRecovery recovery;
    auto journal = Journal::open(o, recovery);
    REQUIRE(journal);
    BrokerOptions options;
    options.journal = journal->get();
    BusFixture bus(options);
    HubPublisher hub(bus);
    auto admin = bus.publisher();
    REQUIRE(admin.publish_confirmed("Site/kept", R"({"v":1})", 5s, retain()));
    REQUIRE(admin.publish_confirmed("Site/cleared", R"({"v":1})", 5s, retain()));
    REQUIRE(admin.publish_confirmed("Site/cleared", "", 5s, retain()));
    REQUIRE(admin.publish_confirmed("Site/live", R"({"v":1})", 5s));  // not retained
    hub("Timer/started", R"({"name":"Timer","instance":"Timer"})");
    hub("Timer/exited", R"({"name":"Timer","instance":"Timer"})", false);
    hub("Timer/stopped", R"({"name":"Timer","instance":"Timer"})");
    hub("Hub/startup", R"({"pid":1})");
    bus.stop();
    last_seq = bus.broker->last_seq();
  }
  JournalRecovery recovery;
  auto journal = Journal::open(o, recovery);
  REQUIRE(journal);
  REQUIRE(recovery.last_seq == last_seq);
  BrokerOptions options;
  options.journal = journal->get();
  options.last_seq = recovery.next_after();
  BusFixture bus(options);
  CHECK(retained_now(bus) ==
        std::vector<std::string>{R"(Site/kept {"v":1})",
                                 R"(Timer/stopped {"name":"Timer","instance":"Timer"})",
                                 R"(Hub/startup {"pid":1})"});
  CHECK(bus.broker->counters().retained_topics == 3);
  // Their headers are the ones journalled: the original seq.
  auto late = bus.subscribe({"Site/kept"});
  auto kept = late.next(2s);
  REQUIRE(kept);
  CHECK(kept->seq == 1);
}
