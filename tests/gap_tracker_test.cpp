// GapTracker: the Subscriber's gap and recovery decisions, fed sequence numbers, module
// chains and Hub/recovered events, without a bus.
#include <catch2/catch.hpp>

#include <string>
#include <utility>
#include <vector>

#include "bus/credentials.h"
#include "bus/gap_tracker.h"
#include "bus/wire.h"

using namespace hub;
using Verdict = GapTracker::Verdict;
using Gaps = std::vector<std::pair<uint64_t, uint64_t>>;

namespace {

Event event(const std::string& topic, uint64_t seq, uint64_t module_prev = 0,
            const std::string& source = "Timer", const std::string& payload = "{}") {
  Event e;
  e.topic_frame = zmq::message_t(topic.data(), topic.size());
  e.payload_frame = zmq::message_t(payload.data(), payload.size());
  e.seq = seq;
  e.module_prev = module_prev;
  e.source = source;
  return e;
}

Event tick(uint64_t seq) { return event("Timer/tick", seq, seq - 1); }

// The first event of a hubd started after a crash; `payload` names what it skipped.
Event recovered(uint64_t seq, const std::string& payload) {
  return event(std::string(wire::kRecoveredTopic), seq, 0, kHubIdentity, payload);
}

GapTrackerMode everything(bool recover) {
  GapTrackerMode mode;
  mode.tracks_all = true;
  mode.matches_all = true;
  mode.recover = recover;
  return mode;
}

GapTrackerMode one_module() {
  GapTrackerMode mode;
  mode.tracks_module = true;
  mode.recover = true;
  return mode;
}

struct Tracked {
  Gaps reported;
  GapTracker tracker;
  explicit Tracked(GapTrackerMode mode)
      : tracker(mode,
                [this](uint64_t first, uint64_t last) { reported.emplace_back(first, last); }) {}
};

void check_range(const GapTracker& t, uint64_t first, uint64_t last) {
  CHECK(t.fetching());
  CHECK(t.fetch_range().first == first);
  CHECK(t.fetch_range().last == last);
}

}  // namespace

TEST_CASE("gap tracker: without recovery, skipped numbers are reported and the event delivered",
          "[subscriber][gap]") {
  Tracked t(everything(false));
  for (uint64_t seq : {1, 2, 3}) CHECK(t.tracker.live(tick(seq)) == Verdict::kDeliver);
  CHECK(t.reported.empty());
  CHECK(t.tracker.live(tick(7)) == Verdict::kDeliver);
  CHECK(t.reported == Gaps{{4, 6}});
  CHECK(t.tracker.seen() == 7);
  CHECK_FALSE(t.tracker.can_fetch());
  CHECK_FALSE(t.tracker.start_catch_up());
}

TEST_CASE("gap tracker: a subscriber that sees only some numbers decides nothing",
          "[subscriber][gap]") {
  GapTrackerMode mode;
  mode.recover = true;
  Tracked t(mode);
  CHECK(t.tracker.live(tick(5)) == Verdict::kDeliver);
  CHECK(t.tracker.live(tick(50)) == Verdict::kDeliver);
  CHECK(t.reported.empty());
  CHECK_FALSE(t.tracker.can_fetch());
}

TEST_CASE("gap tracker: with recovery, a gap is fetched, what the journal lacks reported",
          "[subscriber][gap]") {
  Tracked t(everything(true));
  CHECK_FALSE(t.tracker.can_fetch());  // nothing seen yet: nothing to count from
  CHECK(t.tracker.live(tick(3)) == Verdict::kDeliver);
  CHECK(t.tracker.live(tick(8)) == Verdict::kFetch);
  check_range(t.tracker, 4, 7);
  CHECK(t.tracker.fetched(4));
  CHECK_FALSE(t.tracker.fetched(4));  // the same number twice: delivered already
  t.tracker.fetch_lost({{5, 6, "retention"}});
  CHECK(t.reported == Gaps{{5, 6}});
  t.tracker.fetch_lost({{5, 6, "retention"}});  // told once
  CHECK(t.reported.size() == 1);
  CHECK(t.tracker.fetched(7));
  t.tracker.fetch_caught_up(8);
  CHECK_FALSE(t.tracker.fetching());
  CHECK(t.reported.size() == 1);
  CHECK(t.tracker.seen() == 8);  // the live event that showed the gap is accounted for
  CHECK(t.tracker.live(tick(8)) == Verdict::kDrop);
  CHECK(t.tracker.live(tick(9)) == Verdict::kDeliver);
}

TEST_CASE("gap tracker: a fetch that ends short of the live event reports the rest",
          "[subscriber][gap]") {
  Tracked t(everything(true));
  CHECK(t.tracker.live(tick(1)) == Verdict::kDeliver);
  CHECK(t.tracker.live(tick(10)) == Verdict::kFetch);
  check_range(t.tracker, 2, 9);
  CHECK(t.tracker.fetched(2));
  t.tracker.fetch_caught_up(10);
  CHECK(t.reported == Gaps{{3, 9}});
  CHECK(t.tracker.seen() == 10);
}

TEST_CASE("gap tracker: a subscriber with patterns is not told the end of a fetch's range",
          "[subscriber][gap]") {
  GapTrackerMode mode = everything(true);
  mode.matches_all = false;  // lossless: it receives everything, wants some
  Tracked t(mode);
  CHECK(t.tracker.live(tick(1)) == Verdict::kDeliver);
  CHECK(t.tracker.live(tick(10)) == Verdict::kFetch);
  t.tracker.fetch_caught_up(10);  // the journal had none of its events: fine
  CHECK(t.reported.empty());
  CHECK(t.tracker.seen() == 10);
}

TEST_CASE("gap tracker: a fetch retried, then given up, reports what it was to bring",
          "[subscriber][gap]") {
  Tracked t(everything(true));
  CHECK(t.tracker.live(tick(4)) == Verdict::kDeliver);
  CHECK(t.tracker.live(tick(9)) == Verdict::kFetch);
  CHECK(t.tracker.fetch_failed());
  CHECK(t.tracker.fetched(5));
  CHECK(t.tracker.fetch_failed());  // a success in between: the count starts again
  check_range(t.tracker, 6, 8);     // again, from where it was
  CHECK(t.tracker.fetch_failed());
  CHECK_FALSE(t.tracker.fetch_failed());
  CHECK_FALSE(t.tracker.fetching());
  CHECK(t.reported == Gaps{{6, 8}});
  CHECK(t.tracker.seen() == 9);
}

TEST_CASE("gap tracker: an idle check fetches up to now", "[subscriber][gap]") {
  Tracked t(everything(true));
  CHECK(t.tracker.live(tick(5)) == Verdict::kDeliver);
  CHECK(t.tracker.start_catch_up());
  check_range(t.tracker, 6, 0);
  CHECK(t.tracker.fetched(6));
  t.tracker.fetch_caught_up(9);  // 7..9 were not its events: nothing lost
  CHECK(t.reported.empty());
  CHECK(t.tracker.seen() == 9);
  CHECK(t.tracker.live(tick(9)) == Verdict::kDrop);
}

TEST_CASE("gap tracker: resuming fetches from the first unhandled event up to the join",
          "[subscriber][gap]") {
  Tracked t(everything(true));
  t.tracker.resume_from(50, true);
  CHECK(t.tracker.seen() == 49);
  CHECK(t.tracker.start_resume(60));
  CHECK_FALSE(t.tracker.start_resume(60));  // once
  check_range(t.tracker, 50, 0);
  CHECK(t.tracker.fetched(50));
  // The hub cannot be asked: what was due up to the join is lost.
  CHECK(t.tracker.fetch_failed());
  CHECK(t.tracker.fetch_failed());
  CHECK_FALSE(t.tracker.fetch_failed());
  CHECK(t.reported == Gaps{{51, 60}});
  CHECK(t.tracker.live(tick(61)) == Verdict::kDeliver);
}

TEST_CASE("gap tracker: a chained subscriber sees gaps in its module's module_prev",
          "[subscriber][gap]") {
  Tracked t(one_module());
  t.tracker.joined(100);
  CHECK(t.tracker.live(event("Timer/tick", 105, 100)) == Verdict::kDeliver);
  CHECK(t.tracker.live(event("Timer/tock", 112, 105)) == Verdict::kDeliver);  // others between
  CHECK(t.tracker.live(event("Timer/tick", 120, 115)) == Verdict::kFetch);    // 115 missed
  check_range(t.tracker, 113, 119);
  CHECK(t.tracker.fetched(115));
  t.tracker.fetch_caught_up(120);
  CHECK(t.reported.empty());  // with patterns: the range's end is not its own to report
  CHECK(t.tracker.seen() == 120);
  CHECK(t.tracker.live(event("Timer/tick", 120, 115)) == Verdict::kDrop);
}

TEST_CASE("gap tracker: a Hub/recovered naming reserved numbers reports only those lost",
          "[subscriber][gap]") {
  const std::string payload =
      R"({"skipped_first":15,"skipped_last":19,"lost_first":11,"lost_last":14})";
  SECTION("without recovery") {
    Tracked t(everything(false));
    CHECK(t.tracker.live(tick(10)) == Verdict::kDeliver);
    CHECK(t.tracker.live(recovered(20, payload)) == Verdict::kDeliver);
    CHECK(t.reported == Gaps{{11, 14}});  // 15..19 were only reserved
    CHECK(t.tracker.seen() == 20);
  }
  SECTION("with recovery, the fetch's end is not reported") {
    Tracked t(everything(true));
    CHECK(t.tracker.live(tick(10)) == Verdict::kDeliver);
    CHECK(t.tracker.live(recovered(20, payload)) == Verdict::kFetch);
    check_range(t.tracker, 11, 19);
    t.tracker.fetch_lost({{11, 14, "a failed write"}});
    t.tracker.fetch_caught_up(20);
    CHECK(t.reported == Gaps{{11, 14}});
    CHECK(t.tracker.seen() == 20);
  }
  SECTION("all the missing numbers reserved: nothing lost") {
    Tracked t(everything(false));
    CHECK(t.tracker.live(tick(14)) == Verdict::kDeliver);
    CHECK(t.tracker.live(recovered(20, payload)) == Verdict::kDeliver);
    CHECK(t.reported.empty());
  }
  SECTION("published by someone else it is an ordinary event") {
    Tracked t(everything(false));
    CHECK(t.tracker.live(tick(10)) == Verdict::kDeliver);
    CHECK(t.tracker.live(event(std::string(wire::kRecoveredTopic), 20, 0, "Timer", payload)) ==
          Verdict::kDeliver);
    CHECK(t.reported == Gaps{{11, 19}});
  }
}

TEST_CASE("gap tracker: a Hub/recovered naming only lost numbers reports them all",
          "[subscriber][gap]") {
  const std::string payload =
      R"({"skipped_first":0,"skipped_last":0,"lost_first":11,"lost_last":19})";
  SECTION("without recovery") {
    Tracked t(everything(false));
    CHECK(t.tracker.live(tick(10)) == Verdict::kDeliver);
    CHECK(t.tracker.live(recovered(20, payload)) == Verdict::kDeliver);
    CHECK(t.reported == Gaps{{11, 19}});
  }
  SECTION("with recovery, as the journal names them") {
    Tracked t(everything(true));
    CHECK(t.tracker.live(tick(10)) == Verdict::kDeliver);
    CHECK(t.tracker.live(recovered(20, payload)) == Verdict::kFetch);
    check_range(t.tracker, 11, 19);
    CHECK(t.tracker.fetched(11));
    t.tracker.fetch_lost({{12, 19, "lost in a crash"}});
    t.tracker.fetch_caught_up(20);
    CHECK(t.reported == Gaps{{12, 19}});
    CHECK(t.tracker.seen() == 20);
  }
  SECTION("with recovery, when the journal could not keep Hub/recovered (a full disk)") {
    Tracked t(everything(true));
    CHECK(t.tracker.live(tick(10)) == Verdict::kDeliver);
    CHECK(t.tracker.live(recovered(20, payload)) == Verdict::kFetch);
    t.tracker.fetch_caught_up(10);  // the journal ends before the gap: it names nothing
    CHECK(t.reported == Gaps{{11, 19}});
    CHECK(t.tracker.seen() == 20);
  }
}

TEST_CASE("gap tracker: the end of a fetched range stops below numbers only reserved",
          "[subscriber][gap]") {
  Tracked t(everything(true));
  CHECK(t.tracker.live(tick(10)) == Verdict::kDeliver);
  CHECK(t.tracker.live(recovered(
            20, R"({"skipped_first":15,"skipped_last":19,"lost_first":11,"lost_last":14})")) ==
        Verdict::kFetch);
  t.tracker.fetch_caught_up(10);  // nothing from the journal
  CHECK(t.reported == Gaps{{11, 14}});
}
