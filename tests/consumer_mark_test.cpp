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
