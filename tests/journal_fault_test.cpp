// The journal when the disk fails (through the fault-injection seam, JournalEnv): a write,
// sync, directory sync or open that fails with ENOSPC, EIO or EROFS loses exactly the events it
// could not keep, says which, never leaves half a record for later ones to follow, and
// the journal goes on once the disk takes writes again. Also: numbers out of range at
// open, and every gap a reader meets reported with its exact range.
#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include <catch2/catch.hpp>

#include "bus/journal.h"
#include "bus/wire.h"
#include "support/faulty_journal_env.h"
#include "support/running_hub.h"
#include "support/temp_dir.h"

using namespace hub;
using hub::test::FaultyJournalEnv;
using hub::test::TempDir;
namespace fs = std::filesystem;
using Op = FaultyJournalEnv::Op;

namespace {

std::string payload_of(uint64_t seq) { return "{\"n\":" + std::to_string(seq) + "}"; }

std::unique_ptr<Journal> open_journal(const TempDir& dir, JournalEnv* env,
                                      Durability durability = Durability::kBatch,
                                      uint64_t segment_size = 64ull << 20) {
  JournalOptions o;
  o.dir = dir.path() / "journal";
  o.env = env;
  o.durability = durability;
  o.segment_size = segment_size;
  JournalRecovery recovery;
  auto j = Journal::open(o, recovery);
  REQUIRE(j);
  return std::move(*j);
}

void append_range(Journal& j, uint64_t first, uint64_t last) {
  for (uint64_t seq = first; seq <= last; ++seq) {
    REQUIRE(j.append(seq, "Mod/ev", "hdr", payload_of(seq)));
  }
}

struct ReadBack {
  std::vector<uint64_t> seqs;
  std::vector<JournalGap> gaps;
  std::vector<std::string> corrupt;
};

ReadBack read_back(const TempDir& dir, uint64_t from = 1) {
  ReadBack out;
  JournalReader reader(dir.path() / "journal", from,
                       [&](const std::string& why) { out.corrupt.push_back(why); });
  while (const JournalRecord* r = reader.next()) {
    for (const auto& gap : reader.gaps()) out.gaps.push_back(gap);
    CHECK(r->payload == payload_of(r->seq));
    out.seqs.push_back(r->seq);
  }
  return out;
}

std::vector<uint64_t> range(uint64_t first, uint64_t last) {
  std::vector<uint64_t> v;
  for (uint64_t s = first; s <= last; ++s) v.push_back(s);
  return v;
}

std::vector<uint64_t> joined(std::vector<uint64_t> a, const std::vector<uint64_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

}  // namespace

TEST_CASE("a write that fails loses exactly the events not yet written, and no more",
          "[journal][faults]") {
  const int err = GENERATE(ENOSPC, EIO, EROFS);
  INFO("errno " << err);
  TempDir dir;
  FaultyJournalEnv env;
  {
    auto j = open_journal(dir, &env);
    append_range(*j, 1, 10);
    REQUIRE(j->flush(true));
    CHECK(j->durable_seq() == 10);
    env.fail(Op::kWrite, err, ".seg");
    append_range(*j, 11, 15);  // gathered in memory: nothing has failed yet
    const Status s = j->flush(true);
    REQUIRE_FALSE(s);
    CHECK_THAT(s.message(),
               Catch::Contains(".seg: cannot be written: ") && Catch::Contains(std::strerror(err)));
    CHECK(j->last_loss().first == 11);
    CHECK(j->last_loss().last == 15);
    CHECK(j->durable_seq() == 10);
    CHECK_FALSE(j->unsynced());  // nothing left to sync: the lost ones are gone
    // Still failing: the next event is a loss of its own, the earlier ones not again.
    REQUIRE(j->append(16, "Mod/ev", "hdr", payload_of(16)));
    REQUIRE_FALSE(j->flush(true));
    CHECK(j->last_loss().first == 16);
    CHECK(j->last_loss().last == 16);
    env.clear();  // the disk recovers: the journal goes on, no reopening
    append_range(*j, 17, 20);
    REQUIRE(j->flush(true));
    CHECK(j->durable_seq() == 20);
  }
  const ReadBack back = read_back(dir);
  CHECK(back.seqs == joined(range(1, 10), range(17, 20)));
  CHECK(back.corrupt.empty());  // no half record anywhere
  REQUIRE(back.gaps.size() == 1);
  CHECK(back.gaps[0].first == 11);
  CHECK(back.gaps[0].last == 16);
}

TEST_CASE("a disk that fills in the middle of a write: the half record is cut, later ones read",
          "[journal][faults]") {
  TempDir dir;
  FaultyJournalEnv env;
  {
    auto j = open_journal(dir, &env, Durability::kNone);
    append_range(*j, 1, 10);
    REQUIRE(j->flush(false));
    env.fill_up_after(50, ENOSPC, ".seg");  // room for one record and a half
    append_range(*j, 11, 20);
    REQUIRE_FALSE(j->flush(false));
    CHECK(j->last_loss().first == 11);
    CHECK(j->last_loss().last == 20);
    CHECK(j->durable_seq() == 10);
    env.clear();
    append_range(*j, 21, 25);
    REQUIRE(j->flush(false));
  }
  const ReadBack back = read_back(dir);
  CHECK(back.corrupt.empty());
  CHECK(back.seqs == joined(range(1, 10), range(21, 25)));
  JournalRecovery recovery;
  JournalOptions o;
  o.dir = dir.path() / "journal";
  REQUIRE(Journal::open(o, recovery));
  CHECK(recovery.last_seq == 25);
  CHECK(recovery.cut_bytes == 0);
}

TEST_CASE("a sync that fails loses what it covered: cut from the file, not acknowledged",
          "[journal][faults]") {
  const int err = GENERATE(EIO, ENOSPC, EROFS);
  INFO("errno " << err);
  TempDir dir;
  FaultyJournalEnv env;
  {
    auto j = open_journal(dir, &env);
    append_range(*j, 1, 10);
    REQUIRE(j->flush(true));
    append_range(*j, 11, 15);
    REQUIRE(j->flush(false));  // written to the kernel, not yet synced
    env.fail(Op::kSync, err, ".seg");
    const Status s = j->flush(true);
    REQUIRE_FALSE(s);
    CHECK_THAT(s.message(), Catch::Contains("cannot be synced"));
    CHECK(j->last_loss().first == 11);
    CHECK(j->last_loss().last == 15);
    CHECK(j->durable_seq() == 10);
    env.clear();
    append_range(*j, 16, 18);
    REQUIRE(j->flush(true));
    CHECK(j->durable_seq() == 18);
  }
  const ReadBack back = read_back(dir);
  CHECK(back.seqs == joined(range(1, 10), range(16, 18)));
  CHECK(back.corrupt.empty());
}

TEST_CASE("every-event durability: an append whose sync fails returns the failure itself",
          "[journal][faults]") {
  TempDir dir;
  FaultyJournalEnv env;
  auto j = open_journal(dir, &env, Durability::kEveryEvent);
  append_range(*j, 1, 3);
  CHECK(j->durable_seq() == 3);
  env.fail(Op::kSync, EIO, ".seg");
  REQUIRE_FALSE(j->append(4, "Mod/ev", "hdr", payload_of(4)));
  CHECK(j->last_loss().first == 4);
  CHECK(j->last_loss().last == 4);
  env.clear();
  append_range(*j, 5, 5);
  CHECK(j->durable_seq() == 5);
}

TEST_CASE("a file that cannot even be cut back: the journal goes on in a new segment",
          "[journal][faults]") {
  TempDir dir;
  FaultyJournalEnv env;
  {
    auto j = open_journal(dir, &env, Durability::kNone);
    append_range(*j, 1, 10);
    REQUIRE(j->flush(false));
    env.fill_up_after(30, EROFS, ".seg");  // half a record goes in, then read-only
    env.fail(Op::kTruncate, EROFS, ".seg");
    append_range(*j, 11, 12);
    REQUIRE_FALSE(j->flush(false));
    CHECK(j->last_loss().first == 11);
    env.clear();
    append_range(*j, 13, 15);
    REQUIRE(j->flush(false));
  }
  CHECK(journal_segments(dir.path() / "journal").size() == 2);
  const ReadBack back = read_back(dir);
  CHECK(back.seqs == joined(range(1, 10), range(13, 15)));
  REQUIRE(back.gaps.size() == 1);
  CHECK(back.gaps[0].first == 11);
  CHECK(back.gaps[0].last == 12);
  CHECK_THAT(back.gaps[0].why, Catch::Contains("cut short"));
}

TEST_CASE("a reservation that cannot be written refuses the number and loses nothing",
          "[journal][faults]") {
  const auto op = GENERATE(Op::kPwrite, Op::kSync);
  TempDir dir;
  FaultyJournalEnv env;
  auto j = open_journal(dir, &env);
  append_range(*j, 1, 5);  // the first reservation covers up to 1 + kReserveBlock
  env.fail(op, ENOSPC, "reserved");
  const uint64_t past = 2 + kReserveBlock;
  const Status s = j->append(past, "Mod/ev", "hdr", payload_of(past));
  REQUIRE_FALSE(s);
  CHECK_THAT(s.message(), Catch::Contains("reserved"));
  CHECK(j->last_seq() == 5);  // the number was not used
  env.clear();
  REQUIRE(j->append(past, "Mod/ev", "hdr", payload_of(past)));
  REQUIRE(j->flush(true));
  CHECK(j->durable_seq() == past);
}

TEST_CASE("the reservation is rewritten in place, so a full disk cannot refuse it",
          "[journal][faults]") {
  TempDir dir;
  FaultyJournalEnv env;
  auto j = open_journal(dir, &env);
  append_range(*j, 1, 2);  // the first reservation creates the file
  const fs::path file = dir.path() / "journal" / "reserved";
  struct stat before {};
  REQUIRE(::stat(file.c_str(), &before) == 0);
  // No file can be created any more: a new file and a rename would be refused.
  env.fail(Op::kOpen, ENOSPC);
  const uint64_t past = 2 + kReserveBlock;
  REQUIRE(j->append(past, "Mod/ev", "hdr", payload_of(past)));
  struct stat after {};
  REQUIRE(::stat(file.c_str(), &after) == 0);
  CHECK(after.st_ino == before.st_ino);
  auto reserved = ReservationFile::read(file);
  REQUIRE(reserved);
  CHECK(*reserved == past + kReserveBlock);
}

TEST_CASE("a new segment counts as durable only once the directory holding it is synced",
          "[journal][faults]") {
  TempDir dir;
  FaultyJournalEnv env;
  auto j = open_journal(dir, &env, Durability::kBatch, /*segment_size=*/200);
  append_range(*j, 1, 2);
  REQUIRE(j->flush(true));
  const uint64_t durable = j->durable_seq();
  env.fail(Op::kSyncDir, EIO);
  uint64_t seq = 3;
  while (journal_segments(dir.path() / "journal").size() < 2) {
    REQUIRE(j->append(seq, "Mod/ev", "hdr", payload_of(seq)));
    ++seq;
  }
  const Status s = j->flush(true);
  REQUIRE_FALSE(s);
  CHECK_THAT(s.message(), Catch::Contains("cannot be synced"));
  CHECK(j->durable_seq() < seq - 1);  // the new segment's events were not called durable
  CHECK(j->durable_seq() >= durable);
  CHECK(j->last_loss().last == seq - 1);
  env.clear();
  append_range(*j, seq, seq + 2);
  REQUIRE(j->flush(true));
  CHECK(j->durable_seq() == seq + 2);
}

TEST_CASE("appends never delete; retention spares the segment just filled, whose acks may wait",
          "[journal][retention]") {
  TempDir dir;
  JournalOptions o;
  o.dir = dir.path() / "journal";
  o.segment_size = 200;
  o.max_bytes = 1;  // everything is past the limit
  JournalRecovery recovery;
  auto j = Journal::open(o, recovery);
  REQUIRE(j);
  // One burst across several rolls, as the broker appends a batch before it acks any.
  uint64_t seq = 1;
  while (journal_segments(o.dir).size() < 4) {
    REQUIRE((*j)->append(seq, "Mod/ev", "hdr", payload_of(seq)));
    ++seq;
  }
  CHECK((*j)->retention_due());
  CHECK(journal_segments(o.dir).front().first == 1);  // nothing deleted before the acks
  const auto before = journal_segments(o.dir);
  (*j)->enforce_retention();
  const auto after = journal_segments(o.dir);
  REQUIRE(after.size() == 2);  // the one being written, and the one just filled
  CHECK(after.front().first == before[before.size() - 2].first);
  CHECK_FALSE((*j)->retention_due());
}

TEST_CASE("a segment that cannot be created loses the event that needed it, then recovers",
          "[journal][faults]") {
  const int err = GENERATE(ENOSPC, EROFS, EIO);
  TempDir dir;
  FaultyJournalEnv env;
  auto j = open_journal(dir, &env, Durability::kBatch, /*segment_size=*/200);
  append_range(*j, 1, 3);
  env.fail(Op::kOpen, err, ".seg");
  uint64_t seq = 4;
  Status s = Status::ok();
  for (; seq < 20 && s; ++seq) s = j->append(seq, "Mod/ev", "hdr", payload_of(seq));
  REQUIRE_FALSE(s);  // the roll to a new segment failed
  CHECK_THAT(s.message(), Catch::Contains("cannot be created"));
  CHECK(j->last_loss().last == seq - 1);
  env.clear();
  append_range(*j, seq, seq + 2);
  REQUIRE(j->flush(true));
  CHECK(j->durable_seq() == seq + 2);
}

TEST_CASE("numbers out of range at open are an error that names the file", "[journal]") {
  TempDir dir;
  JournalOptions o;
  o.dir = dir.path() / "journal";
  JournalRecovery recovery;
  SECTION("a reserved number near 2^64") {
    dir.write("journal/reserved", "18446744073709551610\n");
    auto j = Journal::open(o, recovery);
    REQUIRE_FALSE(j);
    CHECK_THAT(j.error(), Catch::Contains("journal/reserved") &&
                              Catch::Contains("18446744073709551610") &&
                              Catch::Contains("9223372036854775807"));
  }
  SECTION("a reserved file that is no number") {
    dir.write("journal/reserved", "twelve\n");
    REQUIRE_FALSE(Journal::open(o, recovery));
  }
  SECTION("a segment name past the largest number") {
    dir.write("journal/99999999999999999999.seg", "");
    auto j = Journal::open(o, recovery);
    REQUIRE_FALSE(j);
    CHECK_THAT(j.error(), Catch::Contains("99999999999999999999.seg"));
  }
  SECTION("the largest number is still fine, one past it is refused") {
    dir.write("journal/reserved", std::to_string(wire::kMaxSeq - 1) + "\n");
    auto j = Journal::open(o, recovery);
    REQUIRE(j);
    REQUIRE((*j)->append(wire::kMaxSeq, "Mod/ev", "hdr", "{}"));
    const Status s = (*j)->append(wire::kMaxSeq + 1, "Mod/ev", "hdr", "{}");
    REQUIRE_FALSE(s);
    CHECK_THAT(s.message(), Catch::Contains("exhausted"));
  }
}

TEST_CASE("every gap a reader meets is reported with its exact range", "[journal][gaps]") {
  TempDir dir;
  {
    auto j = open_journal(dir, nullptr, Durability::kBatch, /*segment_size=*/2000);
    append_range(*j, 1, 300);
    REQUIRE(j->flush(true));
  }
  const auto segments = journal_segments(dir.path() / "journal");
  REQUIRE(segments.size() > 5);
  const uint64_t deleted_first = segments[2].first, deleted_last = segments[3].first - 1;
  SECTION("a segment deleted in the middle") {
    fs::remove(segments[2].second);
    const ReadBack back = read_back(dir);
    REQUIRE(back.gaps.size() == 1);
    CHECK(back.gaps[0].first == deleted_first);
    CHECK(back.gaps[0].last == deleted_last);
    CHECK_THAT(back.gaps[0].why, Catch::Contains(segments[1].second.filename().string()));
    CHECK(back.seqs.size() == 300 - (deleted_last - deleted_first + 1));
  }
  SECTION("a segment truncated in the middle") {
    fs::resize_file(segments[2].second, fs::file_size(segments[2].second) / 2);
    const ReadBack back = read_back(dir);
    REQUIRE(back.gaps.size() == 1);
    CHECK(back.gaps[0].last == deleted_last);
    CHECK(back.gaps[0].first > deleted_first);
    CHECK(back.seqs == joined(range(1, back.gaps[0].first - 1), range(deleted_last + 1, 300)));
    CHECK_THAT(back.gaps[0].why, Catch::Contains(segments[2].second.filename().string()));
    // Read from inside the gap: it starts where the reader was asked to.
    const ReadBack inside = read_back(dir, back.gaps[0].first + 1);
    REQUIRE_FALSE(inside.gaps.empty());
    CHECK(inside.gaps[0].first == back.gaps[0].first + 1);
    CHECK(inside.gaps[0].last == deleted_last);
  }
  SECTION("a corrupt record") {
    {
      std::fstream f(segments[1].second, std::ios::in | std::ios::out | std::ios::binary);
      f.seekp(40);  // inside the segment's first record
      f.write("\x5A\x5A\x5A\x5A", 4);
    }
    const ReadBack back = read_back(dir);
    REQUIRE(back.gaps.size() == 1);
    CHECK(back.gaps[0].first == segments[1].first);
    CHECK(back.gaps[0].last == segments[1].first);
    CHECK_THAT(back.gaps[0].why, Catch::Contains("corrupt record"));
  }
  SECTION("segments removed by retention") {
    fs::remove(segments[0].second);
    fs::remove(segments[1].second);
    const ReadBack back = read_back(dir);
    REQUIRE(back.gaps.size() == 1);
    CHECK(back.gaps[0].first == 1);
    CHECK(back.gaps[0].last == deleted_first - 1);
    CHECK_THAT(back.gaps[0].why, Catch::Contains("no longer in the journal"));
  }
}

TEST_CASE("a cut below the durable mark is told apart from numbers that were only reserved",
          "[journal]") {
  TempDir dir, crashed;
  {
    auto j = open_journal(dir, nullptr);
    append_range(*j, 1, 100);
    REQUIRE(j->flush(true));     // 1..100 durable: acknowledged, if confirmed
    append_range(*j, 101, 110);  // numbered, not yet durable
    REQUIRE(j->flush(false));
    // The state a kill -9 would leave, copied while the journal is open.
    fs::copy(dir.path() / "journal", crashed.path() / "journal", fs::copy_options::recursive);
  }
  // Then the newest segment loses its end: records 81.. go.
  const fs::path segment = journal_segments(crashed.path() / "journal").back().second;
  uint64_t cut_at = 0;
  {
    JournalReader reader(crashed.path() / "journal", 1);
    uint64_t offset = 0;
    while (const JournalRecord* r = reader.next()) {
      if (r->seq == 81) cut_at = offset;
      offset += 12 + 16 + r->topic.size() + r->header.size() + r->payload.size();
    }
  }
  REQUIRE(cut_at > 0);
  fs::resize_file(segment, cut_at);
  JournalOptions o;
  o.dir = crashed.path() / "journal";
  JournalRecovery recovery;
  REQUIRE(Journal::open(o, recovery));
  CHECK(recovery.last_seq == 80);
  CHECK(recovery.durable == 100);
  CHECK(recovery.lost_first() == 81);  // acknowledged once, gone now
  CHECK(recovery.lost_last() == 100);
  CHECK(recovery.skipped_first() == 101);  // never acknowledged
  CHECK(recovery.skipped_last() == 1 + kReserveBlock);
  CHECK(recovery.next_after() == 1 + kReserveBlock);
}

TEST_CASE("a failed sync whose events cannot be cut back says they may still be read",
          "[journal][faults]") {
  TempDir dir;
  FaultyJournalEnv env;
  auto j = open_journal(dir, &env);
  append_range(*j, 1, 3);
  REQUIRE(j->flush(true));
  append_range(*j, 4, 6);
  env.fail(Op::kSync, EIO, ".seg");
  env.fail(Op::kTruncate, EIO, ".seg");
  const Status s = j->flush(true);
  REQUIRE_FALSE(s);
  CHECK_THAT(s.message(), Catch::Contains("cannot be synced") &&
                              Catch::Contains("could not be cut back") &&
                              Catch::Contains("may still be read"));
  CHECK(j->last_loss().first == 4);
  CHECK(j->last_loss().last == 6);
  env.clear();
  append_range(*j, 7, 8);  // in a new segment: nothing follows the uncut records
  REQUIRE(j->flush(true));
  CHECK(journal_segments(dir.path() / "journal").size() == 2);
}

TEST_CASE("at open, the newest segment and its directory are synced before they count",
          "[journal][faults]") {
  TempDir dir;
  { append_range(*open_journal(dir, nullptr), 1, 5); }  // a segment a killed hubd left
  const auto op = GENERATE(Op::kSync, Op::kSyncDir);
  FaultyJournalEnv env;
  env.fail(op, EIO);
  JournalOptions o;
  o.dir = dir.path() / "journal";
  o.env = &env;
  JournalRecovery recovery;
  auto j = Journal::open(o, recovery);
  REQUIRE_FALSE(j);  // what it holds cannot be vouched for as durable
  CHECK_THAT(j.error(), Catch::Contains(".seg: cannot be synced"));
  env.clear();
  auto again = Journal::open(o, recovery);
  REQUIRE(again);
  CHECK(recovery.last_seq == 5);
}
