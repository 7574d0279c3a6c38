// A durable consumer's mark: absent until first saved, then read back as saved; a save
// replaces the file whole.
#include <atomic>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

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

TEST_CASE("concurrent saves never leave an older mark on disk after a newer one was saved",
          "[mark]") {
  // Several threads move the mark forward (under one lock, as a durable subscription does)
  // and save outside it; the file, read meanwhile, never goes back, and ends at the last.
  TempDir dir;
  const auto file = dir.path() / "m";
  ConsumerMark mark(file, 1);
  REQUIRE(mark.save());
  std::mutex moves;
  uint64_t next = 0;
  std::atomic<bool> done{false};
  std::atomic<int> went_back{0}, behind{0}, failed{0};  // Catch asserts on this thread only
  std::thread reader([&] {
    uint64_t last = 0;
    while (!done) {
      std::ifstream in(file);
      uint64_t on_disk = 0;
      if (!(in >> on_disk)) continue;  // between open and rename: the old file or the new
      if (on_disk < last) ++went_back;
      last = on_disk;
    }
  });
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&] {
      for (int i = 0; i < 100; ++i) {
        {
          std::lock_guard lock(moves);
          (void)mark.advance(++next);
        }
        if (!mark.save()) ++failed;
        const uint64_t saved = mark.saved();
        std::ifstream in(file);
        uint64_t on_disk = 0;
        if (!(in >> on_disk) || on_disk < saved) ++behind;  // behind what a save said it saved
      }
    });
  }
  for (auto& w : writers) w.join();
  done = true;
  reader.join();
  CHECK(went_back == 0);
  CHECK(behind == 0);
  CHECK(failed == 0);
  CHECK(mark.saved() == 400);
  std::ifstream in(file);
  uint64_t on_disk = 0;
  REQUIRE(in >> on_disk);
  CHECK(on_disk == 400);
}
