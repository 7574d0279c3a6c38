#include "core/hub/hub_logger.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "bus/unique_fd.h"
#include "support/temp_dir.h"

using namespace hub;
using hub::test::TempDir;

TEST_CASE("JOURNAL_STREAM names stderr only with its exact device and inode", "[logger]") {
  TempDir dir;
  const auto file = dir.write("stream", "");
  unique_fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  REQUIRE(fd);
  struct stat st {};
  REQUIRE(::fstat(fd.get(), &st) == 0);
  const std::string dev = std::to_string(st.st_dev), ino = std::to_string(st.st_ino);

  CHECK(is_journal_stream(dev + ":" + ino, fd.get()));
  CHECK_FALSE(is_journal_stream(dev + ":" + std::to_string(st.st_ino + 1), fd.get()));
  CHECK_FALSE(is_journal_stream(std::to_string(st.st_dev + 1) + ":" + ino, fd.get()));
  for (const std::string& bad : {std::string(), ":" + ino, dev + ":", dev + ":" + ino + "x",
                                 dev + "x:" + ino, ino, "-1:" + ino}) {
    CHECK_FALSE(is_journal_stream(bad, fd.get()));
  }
  CHECK_FALSE(is_journal_stream(dev + ":" + ino, -1));
}
