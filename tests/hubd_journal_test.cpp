// hubd's journal as a user relies on it: the sequence goes on across restarts (clean or
// kill -9) and is never reused, and a confirmed publish is in the journal when it returns.
#include <signal.h>

#include <catch2/catch.hpp>

#include "bus/journal.h"
#include "support/running_hub.h"

using namespace hub;
using namespace hub::test;
namespace fs = std::filesystem;

namespace {

uint64_t startup_seq(const TempDir& root) {
  ChildProcess tap(BUS_TAP_PATH, {"--root", root.path(), "-C", "1", "-W", "10", "Hub/startup"});
  REQUIRE(tap.wait_exit() == 0);
  const std::string line = tap.stdout_lines().at(0);
  return std::stoull(line.substr(0, line.find(' ')));
}

}  // namespace

TEST_CASE("the sequence goes on across a clean restart and after a kill -9, never reused",
          "[hubd][journal]") {
  TempDir root;
  uint64_t first = 0, second = 0;
  {
    ChildProcess hubd(HUBD_PATH, {"--root", root.path()});
    REQUIRE(hubd.wait_stderr("hub is up"));
    first = startup_seq(root);
    hubd.signal(SIGTERM);
    REQUIRE(hubd.wait_exit() == 0);
  }
  {
    ChildProcess hubd(HUBD_PATH, {"--root", root.path()});
    REQUIRE(hubd.wait_stderr("hub is up"));
    second = startup_seq(root);
    CHECK(second > first + 1);   // Hub/shutdown of the first run came in between
    CHECK(second < first + 10);  // a clean stop reserves nothing beyond what it wrote
    hubd.signal(SIGKILL);
    REQUIRE(hubd.wait_exit());
  }
  ChildProcess hubd(HUBD_PATH, {"--root", root.path()});
  REQUIRE(hubd.wait_stderr("hub is up"));
  CHECK(
      hubd.wait_stderr("may have been handed out by a hubd that crashed", std::chrono::seconds(1)));
  const uint64_t third = startup_seq(root);
  CHECK(third > second + kReserveBlock - 10);  // past every number the killed run reserved
  hubd.signal(SIGTERM);
  CHECK(hubd.wait_exit() == 0);
  // Everything journalled reads back in order, the gap after the kill included.
  JournalReader reader(root.path() / "var/db/hub/journal", 1);
  uint64_t last = 0, count = 0;
  while (const JournalRecord* r = reader.next()) {
    CHECK(r->seq > last);
    last = r->seq;
    ++count;
  }
  CHECK(last > third);
  CHECK(count == 5);  // startup and shutdown of runs 1 and 3, startup of the killed run 2
}

TEST_CASE("a confirmed publish is in the journal when it returns", "[hubd][journal]") {
  TempDir root;
  RunningHub hub(root);
  ChildProcess publish(HUBCTL_PATH, {"--root", root.path(), "publish", "Test/kept", "{\"k\":1}"});
  REQUIRE(publish.wait_exit() == 0);
  const uint64_t seq = std::stoull(publish.stdout_lines().at(0));
  JournalReader reader(root.path() / "var/db/hub/journal", seq);
  const JournalRecord* r = reader.next();
  REQUIRE(r);
  CHECK(r->seq == seq);
  CHECK(r->topic == "Test/kept");
  CHECK(r->payload == "{\"k\":1}");
}
