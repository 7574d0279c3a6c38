#include "core/system/journal_stream.h"

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "support/fake_journal.h"
#include "support/temp_dir.h"

using namespace hub;
using hub::test::FakeJournal;
using hub::test::TempDir;
using namespace std::chrono_literals;

TEST_CASE("a journal stream starts with journald's seven-line header, then the output",
          "[journal_stream]") {
  TempDir dir;
  FakeJournal journald(dir.path() / "stdout");
  auto stream = open_journal_stream(journald.path(), "Cam.front");
  REQUIRE(stream);
  const std::string line = "<4>low light\n";
  REQUIRE(::write(stream->get(), line.data(), line.size()) == static_cast<ssize_t>(line.size()));
  // identifier, unit id (none), priority 6, level prefixes on, no syslog, kmsg or console
  CHECK(journald.wait_for("low light", 10s) ==
        std::optional<std::string>("Cam.front\n\n6\n1\n0\n0\n0\n<4>low light\n"));

  struct stat st {};
  REQUIRE(::fstat(stream->get(), &st) == 0);
  CHECK(journal_stream_id(stream->get()) ==
        std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino));
}

TEST_CASE("no journald: the stream fails, naming the socket", "[journal_stream]") {
  TempDir dir;
  auto stream = open_journal_stream(dir.path() / "stdout", "Cam");
  REQUIRE_FALSE(stream);
  CHECK_THAT(stream.error(), Catch::Contains((dir.path() / "stdout").string()));
  CHECK_THAT(stream.error(), Catch::Contains("No such file or directory"));
}
