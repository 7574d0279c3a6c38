// The bookkeeping of an SDK durable subscription: the mark a restart resumes from, as events
// are handed out, acknowledged (or not), thrown on, lost, and as the subscription idles.
#include <thread>

#include <catch2/catch.hpp>

#include "adapters/sdk/durable_subscription.h"
#include "support/temp_dir.h"

using namespace hub;
using hub::sdk::DurableOptions;
using hub::sdk::DurableSubscription;
using hub::test::TempDir;

namespace {

DurableOptions acked(uint64_t save_every = 1) {
  DurableOptions o;
  o.explicit_ack = true;
  o.save_every = save_every;
  return o;
}

}  // namespace

TEST_CASE("an acknowledged durable subscription's mark stays before what is not acknowledged",
          "[sdk][durable]") {
  TempDir dir;
  const auto file = dir.path() / "consumers/bridge";
  {
    DurableSubscription d(file, acked());
    CHECK_FALSE(d.found());
    REQUIRE(d.start_after(5));
    CHECK(d.saved() == 5);
    d.handing(7);
    CHECK(d.handled(7, false));
    CHECK(d.mark() == 5);  // returned, not acknowledged
    d.handing(9);
    d.handing(12);
    auto mark = d.acknowledge(8);  // saved at once: save_every 1
    REQUIRE(mark);
    CHECK(*mark == 8);
    CHECK(*d.acknowledge(3) == 8);  // smaller: nothing changes
    CHECK(*d.acknowledge(10) == 10);
    CHECK(*d.acknowledge(100) == 12);  // clipped to the last handed out
    CHECK_FALSE(d.is_new(12));
    CHECK(d.is_new(13));
    d.handing(13);
    CHECK(d.idle(20));  // 13 is not acknowledged: the idle tick moves nothing
    CHECK(d.mark() == 12);
    CHECK(*d.acknowledge(13) == 13);
    CHECK(d.idle(20));  // now every handed one is: it covers what did not match
    CHECK(d.mark() == 20);
    CHECK(d.saved() == 20);
    CHECK(*d.acknowledge(25) == 20);
    d.handing(21);
    CHECK(d.finish());
  }
  DurableSubscription again(file, acked());  // a restart resumes after 20: 21 comes again
  CHECK(again.found());
  CHECK(again.mark() == 20);
  CHECK(again.is_new(21));
  CHECK_FALSE(again.is_new(20));
}

TEST_CASE("an event whose handler threw, and lost events, count once every earlier one is",
          "[sdk][durable]") {
  TempDir dir;
  DurableSubscription d(dir.path() / "m", acked());
  REQUIRE(d.start_after(0));
  d.handing(1);
  CHECK(d.handled(1, true));  // nothing before it outstanding: handled at once
  CHECK(d.mark() == 1);
  d.handing(2);
  d.handing(3);
  CHECK(d.handled(3, true));
  CHECK(d.lost(4, 9));
  CHECK(d.mark() == 1);           // 2 is outstanding
  CHECK(*d.acknowledge(2) == 9);  // 3 threw, 4..9 were lost
  CHECK_FALSE(d.is_new(9));
  CHECK(d.lost(5, 8));  // covered already: nothing changes
  CHECK(d.mark() == 9);
  d.handing(10);
  CHECK(*d.acknowledge(10) == 10);
  d.handing(11);
  CHECK(d.handled(11, true));  // acknowledged before its handler threw: nothing to do
  CHECK(*d.acknowledge(11) == 11);
  CHECK(d.mark() == 11);
}

TEST_CASE("a durable subscription without explicit acknowledgement counts what returned",
          "[sdk][durable]") {
  TempDir dir;
  DurableSubscription d(dir.path() / "m", DurableOptions());
  REQUIRE(d.start_after(3));
  d.handing(4);
  CHECK(d.mark() == 3);
  CHECK(d.handled(4, false));
  CHECK(d.mark() == 4);
  d.handing(6);
  CHECK(d.handled(6, true));  // threw: handled all the same
  CHECK(d.lost(7, 10));
  CHECK(d.mark() == 10);
  CHECK(d.idle(15));
  CHECK(d.mark() == 15);
  CHECK(d.saved() == 15);
}

TEST_CASE("save_every bounds what an acknowledged subscription has not saved", "[sdk][durable]") {
  TempDir dir;
  const auto began = std::chrono::steady_clock::now();
  DurableSubscription d(dir.path() / "m", acked(3));
  REQUIRE(d.start_after(100));
  for (uint64_t seq = 101; seq <= 110; ++seq) d.handing(seq);
  uint64_t saved = 0;
  for (uint64_t seq = 101; seq <= 109; ++seq) {
    saved = *d.acknowledge(seq);
    CHECK(seq - saved < 3);  // never 3 acknowledged and not saved
  }
  const uint64_t saved_at_110 = *d.acknowledge(110);
  // Measured after the last acknowledgement: when all of it took less than the 100 ms of
  // the time bound, only the count saved: every third.
  if (std::chrono::steady_clock::now() - began < std::chrono::milliseconds(90)) {
    CHECK(saved == 109);
    CHECK(saved_at_110 == 109);
  }
  CHECK(d.finish());
  CHECK(d.saved() == 110);
}

TEST_CASE("acknowledgements from another thread while events are handed out", "[sdk][durable]") {
  TempDir dir;
  DurableSubscription d(dir.path() / "m", acked(50));
  REQUIRE(d.start_after(0));
  constexpr uint64_t kEvents = 20000;
  std::atomic<uint64_t> handed{0};
  std::atomic<int> acker_failures{0};  // Catch2 v2 asserts on the test's own thread only
  std::thread acker([&] {
    uint64_t last = 0;
    while (last < kEvents) {
      const uint64_t now = handed.load();
      if (now == last) {
        std::this_thread::yield();
        continue;
      }
      auto saved = d.acknowledge(now);
      if (!saved || *saved > now) ++acker_failures;
      last = now;
    }
  });
  bool all_handled = true;
  for (uint64_t seq = 1; seq <= kEvents; ++seq) {
    d.handing(seq);
    all_handled = d.handled(seq, false) && all_handled;
    handed = seq;
  }
  acker.join();
  CHECK(all_handled);
  CHECK(acker_failures == 0);
  CHECK(d.mark() == kEvents);
  CHECK(kEvents - d.saved() < 50);
  CHECK(d.finish());
  CHECK(d.saved() == kEvents);
}
