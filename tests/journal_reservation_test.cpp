// bus/journal_reservation.h: the `reserved` file survives a torn write (two checksummed
// slots, written alternately), reads the older one-number form, and a first write that
// never completed leaves a journal that opens again.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>

#include <catch2/catch.hpp>

#include "bus/journal.h"
#include "bus/journal_reservation.h"
#include "support/faulty_journal_env.h"
#include "support/temp_dir.h"

using namespace hub;
using hub::test::FaultyJournalEnv;
using hub::test::TempDir;
namespace fs = std::filesystem;

namespace {

std::string contents(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void overwrite(const fs::path& file, uint64_t offset, const std::string& bytes) {
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace

TEST_CASE("a reservation torn by a power cut leaves the one before it", "[journal][reserved]") {
  TempDir dir;
  const fs::path file = dir.path() / "reserved";
  ReservationFile writer(JournalEnv::posix(), dir.path(), file);
  REQUIRE(writer.write(100));  // slot 0
  REQUIRE(writer.write(200));  // slot 1
  REQUIRE(writer.write(300));  // slot 0 again
  CHECK(*ReservationFile::read(file) == 300);
  SECTION("the newest slot torn: the other one holds") {
    overwrite(file, 5, "99");  // digits changed, checksum no longer matches
    CHECK(*ReservationFile::read(file) == 200);
  }
  SECTION("the older slot torn: the newest holds") {
    overwrite(file, 512 + 3, "\x01\x02");
    CHECK(*ReservationFile::read(file) == 300);
  }
  SECTION("both torn: the file is damaged, and said so") {
    overwrite(file, 5, "99");
    overwrite(file, 512 + 5, "99");
    auto read = ReservationFile::read(file);
    REQUIRE_FALSE(read);
    CHECK_THAT(read.error(), Catch::Contains(file.string()) && Catch::Contains("damaged"));
  }
}

TEST_CASE("a reserved file of the older form is read, and upgraded without a torn moment",
          "[journal][reserved]") {
  TempDir dir;
  const fs::path file = dir.write("reserved", "123456\n");
  CHECK(*ReservationFile::read(file) == 123456);
  ReservationFile writer(JournalEnv::posix(), dir.path(), file);
  REQUIRE(writer.write(200000));  // into slot 1: the older number stays until it holds
  CHECK(contents(file).substr(0, 7) == "123456\n");
  CHECK(*ReservationFile::read(file) == 200000);
  REQUIRE(writer.write(300000));  // now over the older form
  CHECK(*ReservationFile::read(file) == 300000);
  overwrite(file, 3, "x");  // slot 0 torn: slot 1 still holds
  CHECK(*ReservationFile::read(file) == 200000);
}

TEST_CASE("a first reservation that never completed leaves a journal that opens again",
          "[journal][reserved]") {
  TempDir dir;
  const fs::path journal_dir = dir.path() / "journal";
  SECTION("refused by a full disk: the file stays empty") {
    FaultyJournalEnv env;
    {
      JournalOptions o;
      o.dir = journal_dir;
      o.env = &env;
      JournalRecovery recovery;
      auto j = Journal::open(o, recovery);
      REQUIRE(j);
      env.fail(FaultyJournalEnv::Op::kPwrite, ENOSPC, "reserved");
      REQUIRE_FALSE((*j)->append(1, "Mod/ev", "hdr", "{}"));  // refused: nothing handed out
    }
    REQUIRE(fs::exists(journal_dir / "reserved"));
  }
  SECTION("cut short by a power cut: a prefix of a slot") {
    dir.write("journal/reserved", "0000000000000");
  }
  JournalOptions o;
  o.dir = journal_dir;
  JournalRecovery recovery;
  auto j = Journal::open(o, recovery);
  REQUIRE(j);
  CHECK(recovery.reserved == 0);
  REQUIRE((*j)->append(1, "Mod/ev", "hdr", "{}"));
  REQUIRE((*j)->flush(true));
}
