// A durable consumer's mark: absent until first saved, then read back as saved; a save
// replaces the file whole.
#include <catch2/catch.hpp>

#include "bus/consumer_mark.h"
#include "support/temp_dir.h"

using namespace hub;
using hub::test::TempDir;

TEST_CASE("a consumer mark is absent until saved, even at 0, then reads back", "[mark]") {
  TempDir dir;
  const auto file = dir.path() / "consumers/scripts";
  {
    ConsumerMark mark(file);
    CHECK_FALSE(mark.found());
    CHECK(mark.acked() == 0);
    CHECK(mark.unsaved());  // a starting point of 0 still has to be written
    REQUIRE(mark.save());
  }
  {
    ConsumerMark mark(file);
    CHECK(mark.found());
    CHECK(mark.acked() == 0);
    CHECK_FALSE(mark.unsaved());
    CHECK(mark.ack(41));  // not due yet: kept in memory
    CHECK(mark.unsaved());
  }  // saved when destroyed
  ConsumerMark mark(file);
  CHECK(mark.acked() == 41);
  CHECK_FALSE(std::filesystem::exists(file.string() + ".new"));
}

TEST_CASE("a consumer mark with a count is due once that many handled events are not saved",
          "[mark]") {
  TempDir dir;
  ConsumerMark mark(dir.path() / "m", 3);
  REQUIRE(mark.save());
  const auto saved_at = std::chrono::steady_clock::now();
  const bool due_at_two = mark.advance(10, 2);
  if (std::chrono::steady_clock::now() - saved_at < std::chrono::milliseconds(90)) {
    CHECK_FALSE(due_at_two);  // 2 of 3, and the last save is recent
  }
  CHECK(mark.advance(12, 1));  // 3: due whatever the time
  REQUIRE(mark.save());
  CHECK(mark.saved() == 12);
  CHECK_FALSE(mark.save_due());  // nothing moved since
  CHECK_FALSE(mark.unsaved());
}
