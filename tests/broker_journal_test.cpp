// The broker's acknowledgements rest on the journal: a confirmed publish is `accepted` only
// once its event is durable; one the journal could not keep is `failed` (with the reason),
// counted and reported on the bus as Hub/journal-failed; and the broker goes on once the
// disk does. Faults come through the journal's seam (JournalEnv).
#include <cerrno>

#include <catch2/catch.hpp>

#include "bus/journal.h"
#include "support/bus_fixture.h"
#include "support/faulty_journal_env.h"
#include "support/running_hub.h"

using namespace hub;
using namespace std::chrono_literals;
using hub::test::BusFixture;
using hub::test::FaultyJournalEnv;
using hub::test::TempDir;
using Op = FaultyJournalEnv::Op;

namespace {

struct JournalledBus {
  explicit JournalledBus(Durability durability = Durability::kBatch) {
    JournalOptions o;
    o.dir = dir.path() / "journal";
    o.env = &env;
    o.durability = durability;
    JournalRecovery recovery;
    auto opened = Journal::open(o, recovery);
    REQUIRE(opened);
    journal = std::move(*opened);
    BrokerOptions options;
    options.journal = journal.get();
    options.journal_failure_interval = 300ms;
    bus = std::make_unique<BusFixture>(options);
  }
  ~JournalledBus() { bus.reset(); }  // the broker goes before the journal it writes

  // The topics in the journal, by seq.
  std::map<uint64_t, std::string> journalled() {
    std::map<uint64_t, std::string> out;
    JournalReader reader(dir.path() / "journal", 1);
    while (const JournalRecord* r = reader.next()) out[r->seq] = std::string(r->topic);
    return out;
  }

  TempDir dir;
  FaultyJournalEnv env;
  std::unique_ptr<Journal> journal;
  std::unique_ptr<BusFixture> bus;
};

}  // namespace

TEST_CASE("a confirmed publish the journal could not keep is acked failed, never accepted",
          "[broker][journal][faults]") {
  const auto durability = GENERATE(Durability::kBatch, Durability::kEveryEvent, Durability::kNone);
  const auto fault = GENERATE(std::make_pair(Op::kWrite, ENOSPC), std::make_pair(Op::kSync, EIO),
                              std::make_pair(Op::kWrite, EROFS));
  if (durability == Durability::kNone && fault.first == Op::kSync) return;  // never syncs
  INFO("durability " << static_cast<int>(durability) << ", errno " << fault.second);
  JournalledBus j(durability);
  Subscriber reports = j.bus->subscribe({"Hub/journal-failed"});
  Publisher pub = j.bus->publisher();
  auto before = pub.publish_confirmed("Test/before", "{}", 5s);
  REQUIRE(before);

  j.env.fail(fault.first, fault.second, ".seg");
  auto lost = pub.publish_confirmed("Test/lost", "{}", 5s);
  REQUIRE_FALSE(lost);
  CHECK_THAT(lost.error(), Catch::Contains("could not keep 'Test/lost'") &&
                               Catch::Contains(std::strerror(fault.second)));
  auto report = reports.next(5s);  // published at once: the first failure
  REQUIRE(report);
  CHECK(report->topic() == "Hub/journal-failed");
  CHECK(report->source == "Hub");
  CHECK(test::json_int(report->payload(), "events_lost") >= 1);
  CHECK_THAT(std::string(report->payload()), Catch::Contains(std::strerror(fault.second)));

  j.env.clear();  // the disk recovers: no restart needed
  auto after = pub.publish_confirmed("Test/after", "{}", 5s);
  REQUIRE(after);
  const BrokerCounters& c = j.bus->broker->counters();
  CHECK(c.journal_failures >= 1);
  CHECK(c.journal_lost_events >= 1);
  j.bus->stop();

  const auto kept = j.journalled();
  CHECK(kept.count(*before) == 1);
  CHECK(kept.count(*after) == 1);
  for (const auto& [seq, topic] : kept) CHECK(topic != "Test/lost");
}

TEST_CASE("acks that wait for a sync are failed when it fails, the earlier ones stay accepted",
          "[broker][journal][faults]") {
  JournalledBus j;
  Publisher pub = j.bus->publisher();
  // Unconfirmed events, then a confirmed one whose ack waits for the sync that fails: all
  // of them are lost, and only the confirmed publisher can be told, with `failed`.
  REQUIRE(pub.publish_confirmed("Test/durable", "{}", 5s));
  j.env.fail(Op::kSync, EIO, ".seg");
  for (int i = 0; i < 20; ++i) REQUIRE(pub.publish("Test/unconfirmed", "{}"));
  auto confirmed = pub.publish_confirmed("Test/confirmed", "{}", 5s);
  REQUIRE_FALSE(confirmed);
  CHECK_THAT(confirmed.error(), Catch::Contains("cannot be synced"));
  j.env.clear();
  REQUIRE(pub.publish_confirmed("Test/again", "{}", 5s));
  j.bus->stop();
  for (const auto& [seq, topic] : j.journalled()) {
    CHECK(topic != "Test/unconfirmed");
    CHECK(topic != "Test/confirmed");
  }
}

TEST_CASE("the broker refuses to publish past the largest sequence number instead of wrapping",
          "[broker]") {
  BrokerOptions options;
  options.last_seq = ~uint64_t{0} - 1;  // as a damaged reservation once made it
  BusFixture bus(options);
  Publisher pub = bus.publisher();
  for (int i = 0; i < 2; ++i) {
    auto seq = pub.publish_confirmed("Test/wrap", "{}", 5s);
    REQUIRE_FALSE(seq);
    CHECK_THAT(seq.error(), Catch::Contains("exhausted"));
  }
  CHECK(bus.broker->last_seq() == ~uint64_t{0} - 1);
}
