// The replay socket reads FROM and CREDIT strictly (docs/PROTOCOL.md, "Replay from the
// journal"): decimal digits only, so "-1", " 5" or a number past 64 bits is an error that
// names the frame, never a wrapped or saturated number.
#include <catch2/catch.hpp>

#include "bus/decimal_text.h"
#include "bus/journal.h"
#include "support/bus_fixture.h"

using namespace hub;
using namespace std::chrono_literals;
using hub::test::BusFixture;
using hub::test::TempDir;

namespace {

struct JournalledBus {
  JournalledBus() {
    JournalOptions o;
    o.dir = dir.path() / "journal";
    JournalRecovery recovery;
    auto opened = Journal::open(o, recovery);
    REQUIRE(opened);
    journal = std::move(*opened);
    BrokerOptions options;
    options.journal = journal.get();
    bus = std::make_unique<BusFixture>(options);
  }
  ~JournalledBus() { bus.reset(); }  // the broker goes before the journal it writes

  TempDir dir;
  std::unique_ptr<Journal> journal;
  std::unique_ptr<BusFixture> bus;
};

// One request on a fresh DEALER; the first message of the answer.
std::vector<std::string> ask(BusFixture& bus, const std::vector<std::string>& frames) {
  zmq::socket_t socket(bus.client_ctx, zmq::socket_type::dealer);
  socket.set(zmq::sockopt::linger, 0);
  set_plain_credential(socket, bus.admin);
  socket.connect(bus.endpoint("replay.sock"));
  for (size_t i = 0; i < frames.size(); ++i) {
    (void)socket.send(zmq::buffer(frames[i]),
                      i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
  }
  std::vector<std::string> answer;
  zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
  if (zmq::poll(&item, 1, 5s) == 0) return answer;
  for (bool more = true; more;) {
    zmq::message_t part;
    (void)socket.recv(part);
    more = part.more();
    answer.push_back(part.to_string());
  }
  return answer;
}

}  // namespace

TEST_CASE("parse_decimal takes the bus's decimal text only", "[replay][text]") {
  CHECK(parse_decimal("0") == 0u);
  CHECK(parse_decimal("42") == 42u);
  CHECK(parse_decimal("18446744073709551615") == UINT64_MAX);
  for (const char* bad : {"", "-1", "+1", " 1", "1 ", "1\n", "01", "1x", "0x10", "1e3",
                          "18446744073709551616", "99999999999999999999999"}) {
    INFO(bad);
    CHECK_FALSE(parse_decimal(bad));
  }
}

TEST_CASE("a replay request with a malformed FROM or CREDIT gets an error naming it",
          "[replay][broker]") {
  JournalledBus j;
  BusFixture& bus = *j.bus;
  REQUIRE(bus.publisher().publish_confirmed("Probe/x", "{}", 5s));
  const auto refused = [&](const std::string& from, const std::string& credit) {
    const auto answer = ask(bus, {"replay", from, credit});
    INFO(from << " / " << credit);
    REQUIRE(answer.size() == 2);
    CHECK(answer[0] == "error");
    return answer[1];
  };
  CHECK(refused("-1", "10") ==
        "FROM: expected a sequence number from 1 as decimal digits, got '-1'");
  CHECK(refused(" 1", "10") ==
        "FROM: expected a sequence number from 1 as decimal digits, got ' 1'");
  CHECK_THAT(refused("1 ", "10"), Catch::StartsWith("FROM: "));
  CHECK_THAT(refused("0", "10"), Catch::StartsWith("FROM: "));
  CHECK_THAT(refused("+1", "10"), Catch::StartsWith("FROM: "));
  CHECK_THAT(refused("99999999999999999999999", "10"), Catch::StartsWith("FROM: "));
  CHECK(refused("1", "-5") ==
        "CREDIT: expected a number of events from 1 as decimal digits, got '-5'");
  CHECK_THAT(refused("1", " 10"), Catch::StartsWith("CREDIT: "));
  CHECK_THAT(refused("1", "0"), Catch::StartsWith("CREDIT: "));
  CHECK_THAT(refused("1", "18446744073709551616"), Catch::StartsWith("CREDIT: "));
  // Well-formed ones are answered; a large credit is capped, as documented.
  const auto events = ask(bus, {"replay", "1", "99999"});
  REQUIRE_FALSE(events.empty());
  CHECK(events[0] == "events");
}
