// The bus journal on real files: appends read back in order across segments, a torn or
// corrupt tail cut at open, corrupt records skipped and reported, retention, durability.
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <random>

#include <catch2/catch.hpp>

#include "bus/journal.h"
#include "support/running_hub.h"
#include "support/temp_dir.h"

using namespace hub;
using hub::test::TempDir;
namespace fs = std::filesystem;

namespace {

std::string payload_of(uint64_t seq) { return "{\"n\":" + std::to_string(seq) + "}"; }

std::unique_ptr<Journal> open(const TempDir& dir, JournalRecovery& recovery,
                              uint64_t segment_size = 64ull << 20,
                              Durability durability = Durability::kBatch) {
  JournalOptions o;
  o.dir = dir.path() / "journal";
  o.segment_size = segment_size;
  o.durability = durability;
  auto j = Journal::open(o, recovery);
  REQUIRE(j);
  return std::move(*j);
}

void append_range(Journal& j, uint64_t first, uint64_t last) {
  for (uint64_t seq = first; seq <= last; ++seq) {
    REQUIRE(j.append(seq, "Mod/ev", "hdr" + std::to_string(seq), payload_of(seq)));
  }
  REQUIRE(j.flush(true));
}

// Every seq read from `from`, checking each record's contents.
std::vector<uint64_t> read_all(const TempDir& dir, uint64_t from,
                               std::vector<std::string>* corrupt = nullptr) {
  JournalReader reader(dir.path() / "journal", from, [&](const std::string& why) {
    if (corrupt) corrupt->push_back(why);
  });
  std::vector<uint64_t> seqs;
  while (const JournalRecord* r = reader.next()) {
    CHECK(r->topic == "Mod/ev");
    CHECK(r->header == "hdr" + std::to_string(r->seq));
    CHECK(r->payload == payload_of(r->seq));
    seqs.push_back(r->seq);
  }
  return seqs;
}

std::vector<uint64_t> range(uint64_t first, uint64_t last) {
  std::vector<uint64_t> v;
  for (uint64_t s = first; s <= last; ++s) v.push_back(s);
  return v;
}

}  // namespace

TEST_CASE("journalled events read back in order, from any sequence number, across segments",
          "[journal]") {
  TempDir dir;
  JournalRecovery recovery;
  {
    auto j = open(dir, recovery, /*segment_size=*/4096);
    CHECK(recovery.last_seq == 0);
    append_range(*j, 1, 1000);
  }
  CHECK(journal_segments(dir.path() / "journal").size() > 5);
  CHECK(read_all(dir, 1) == range(1, 1000));
  CHECK(read_all(dir, 777) == range(777, 1000));
  auto j = open(dir, recovery, 4096);
  CHECK(recovery.last_seq == 1000);
  CHECK(recovery.cut_bytes == 0);
  CHECK_FALSE(j->append(1000, "Mod/ev", "", ""));  // a sequence number is never reused
  append_range(*j, 1001, 1010);
  CHECK(read_all(dir, 995) == range(995, 1010));
}

TEST_CASE("a read from the middle of a large segment starts exactly at its sequence number",
          "[journal]") {
  // Records of mixed sizes (some larger than a seek's window) and a corrupt stretch: the
  // reader finds its place by bisecting the file, and must land on the right record.
  TempDir dir;
  JournalRecovery recovery;
  const auto payload = [](uint64_t seq) {
    return seq % 997 == 0 ? std::string(100 * 1024 + seq % 13, 'x') : payload_of(seq);
  };
  {
    auto j = open(dir, recovery);
    for (uint64_t seq = 1; seq <= 100000; ++seq) {
      REQUIRE(j->append(seq, "Mod/ev", "hdr", payload(seq)));
    }
  }
  const fs::path segment = journal_segments(dir.path() / "journal").back().second;
  REQUIRE(journal_segments(dir.path() / "journal").size() == 1);
  {  // garble 64 bytes a third of the way in
    std::fstream f(segment, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(fs::file_size(segment) / 3));
    f.write(std::string(64, '\x5A').data(), 64);
  }
  std::vector<uint64_t> skipped;
  {
    JournalReader all(dir.path() / "journal", 1);
    uint64_t expect = 1;
    while (const JournalRecord* r = all.next()) {
      for (; expect < r->seq; ++expect) skipped.push_back(expect);
      expect = r->seq + 1;
    }
  }
  REQUIRE_FALSE(skipped.empty());
  std::mt19937 random(7);
  std::vector<uint64_t> froms = {
      2, 996, 997, 998, 99999, 100000, skipped.front(), skipped.back() + 1};
  for (int i = 0; i < 300; ++i)
    froms.push_back(std::uniform_int_distribution<uint64_t>(1, 100000)(random));
  for (const uint64_t from : froms) {
    JournalReader reader(dir.path() / "journal", from);
    uint64_t want = from;
    while (std::find(skipped.begin(), skipped.end(), want) != skipped.end()) ++want;
    INFO("from " << from);
    for (int k = 0; k < 3 && want <= 100000; ++k, ++want) {
      while (std::find(skipped.begin(), skipped.end(), want) != skipped.end()) ++want;
      const JournalRecord* r = reader.next();
      REQUIRE(r != nullptr);
      CHECK(r->seq == want);
      CHECK(r->payload == payload(r->seq));
    }
  }
}

TEST_CASE("records forged inside a payload never pass for real ones, from any start", "[journal]") {
  // A publisher controls payloads: one made of well-formed records (right marker, length
  // and checksum) with a huge seq must not be taken for a record when a reader looks for
  // its place in a segment.
  TempDir scratch;
  JournalRecovery recovery;
  {
    auto forger = open(scratch, recovery);
    REQUIRE(forger->append(uint64_t{1} << 62, "Hub/forged", "hdr", "x"));
  }
  const std::string fake =
      hub::test::read_file(journal_segments(scratch.path() / "journal").back().second);
  REQUIRE_FALSE(fake.empty());
  std::string forged_payload;
  while (forged_payload.size() < 200 * 1024) forged_payload += fake;

  TempDir dir;
  {
    auto j = open(dir, recovery);
    for (uint64_t seq = 1; seq <= 400; ++seq) {
      REQUIRE(j->append(seq, "Mod/ev", "hdr", seq % 2 == 0 ? forged_payload : payload_of(seq)));
    }
  }
  for (uint64_t from = 1; from <= 400; from += 7) {
    JournalReader reader(dir.path() / "journal", from);
    uint64_t want = from;
    while (const JournalRecord* r = reader.next()) {
      REQUIRE(r->seq == want);
      CHECK(r->topic == "Mod/ev");
      ++want;
    }
    CHECK(want == 401);
  }
}

TEST_CASE("a torn tail is cut at open, at any offset, and the sequence goes on past it",
          "[journal]") {
  std::mt19937 random(42);
  for (int round = 0; round < 20; ++round) {
    TempDir dir;
    JournalRecovery recovery;
    {
      auto j = open(dir, recovery);
      append_range(*j, 1, 50);
    }
    const fs::path segment = journal_segments(dir.path() / "journal").back().second;
    const auto size = fs::file_size(segment);
    const auto cut = std::uniform_int_distribution<uintmax_t>(1, size - 1)(random);
    fs::resize_file(segment, cut);
    auto j = open(dir, recovery);
    INFO("cut at " << cut << " of " << size);
    const auto seqs = read_all(dir, 1);
    REQUIRE_FALSE(seqs.empty());
    CHECK(seqs == range(1, seqs.back()));
    CHECK(recovery.last_seq == seqs.back());
    CHECK(fs::file_size(segment) <= cut);  // the partial record is gone
    if (fs::file_size(segment) < cut) {
      CHECK(recovery.cut_bytes == cut - fs::file_size(segment));
      CHECK_THAT(recovery.cut_reason, Catch::Contains("a record cut short"));
    }
    // Numbers once written are never given again: the sequence goes on past all of them.
    CHECK(recovery.next_after() == 50);
    append_range(*j, 51, 53);
    auto expected = range(1, recovery.last_seq);
    for (uint64_t s : range(51, 53)) expected.push_back(s);
    CHECK(read_all(dir, 1) == expected);
  }
}

TEST_CASE("a flipped byte: the tail record is cut at open, an earlier one skipped and reported",
          "[journal]") {
  TempDir dir;
  JournalRecovery recovery;
  { append_range(*open(dir, recovery), 1, 100); }
  const fs::path segment = journal_segments(dir.path() / "journal").back().second;
  const auto size = fs::file_size(segment);
  {  // flip a byte in the middle (record ~50) and one in the very last record
    std::fstream f(segment, std::ios::in | std::ios::out | std::ios::binary);
    for (const std::streamoff at :
         {static_cast<std::streamoff>(size / 2), static_cast<std::streamoff>(size - 3)}) {
      f.seekg(at);
      char c = 0;
      f.read(&c, 1);
      f.seekp(at);
      c = static_cast<char>(c ^ 0x5A);
      f.write(&c, 1);
    }
  }
  auto j = open(dir, recovery);
  CHECK(recovery.cut_bytes > 0);  // the last record's checksum failed: cut
  CHECK_THAT(recovery.cut_reason, Catch::Contains("checksum mismatch"));
  std::vector<std::string> corrupt;
  const auto seqs = read_all(dir, 1, &corrupt);
  REQUIRE(corrupt.size() == 1);
  CHECK_THAT(corrupt[0], Catch::Contains("skipped to the next intact record"));
  CHECK(seqs.size() == 98);  // one skipped in the middle, the last one cut
  CHECK(seqs.back() == 99);
  CHECK(recovery.last_seq == 99);
}

TEST_CASE("after a corrupt record, reading goes on at the very next intact one", "[journal]") {
  // Large enough for index entries every 64 KiB; payloads full of record markers, so the
  // search for the next record meets many that are not records.
  TempDir dir;
  JournalRecovery recovery;
  const auto payload = [](uint64_t seq) {
    return "{\"n\":" + std::to_string(seq) + ",\"x\":\"HUBJ HUBJHUBJ\"}";
  };
  {
    auto j = open(dir, recovery);
    for (uint64_t seq = 1; seq <= 4000; ++seq) REQUIRE(j->append(seq, "Mod/ev", "h", payload(seq)));
    REQUIRE(j->flush(true));
  }
  const fs::path segment = journal_segments(dir.path() / "journal").back().second;
  REQUIRE(fs::file_size(segment) > 3 * 65536);
  {  // just past the first indexed record after 64 KiB: the old reader hid 64 KiB after it
    std::fstream f(segment, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(65536 + 70);
    f.write("\xff\xff", 2);
  }
  std::vector<std::string> corrupt;
  JournalReader reader(dir.path() / "journal", 1,
                       [&](const std::string& why) { corrupt.push_back(why); });
  std::vector<uint64_t> seqs;
  std::vector<JournalGap> gaps;
  while (const JournalRecord* r = reader.next()) {
    CHECK(r->payload == payload(r->seq));
    for (const auto& gap : reader.gaps()) gaps.push_back(gap);
    seqs.push_back(r->seq);
  }
  CHECK(corrupt.size() == 1);  // one corrupt record, however many false markers follow
  CHECK(seqs.size() == 3999);  // all but the damaged one
  REQUIRE(gaps.size() == 1);
  CHECK(gaps[0].first == gaps[0].last);
  CHECK_THAT(gaps[0].why, Catch::Contains("a corrupt record"));
}

namespace {

// The bytes of one record as the journal writes it: what a hostile payload could carry.
std::string record_bytes(uint64_t seq, const std::string& topic, const std::string& payload) {
  TempDir scratch;
  JournalRecovery recovery;
  {
    auto j = open(scratch, recovery);
    REQUIRE(j->append(seq, topic, "h", payload));
  }
  std::ifstream in(journal_segments(scratch.path() / "journal").front().second, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

struct Damaged {
  std::vector<uint64_t> seqs;
  std::vector<std::string> topics;
  std::vector<std::string> corrupt;
};

Damaged read_damaged(const TempDir& dir) {
  Damaged out;
  JournalReader reader(dir.path() / "journal", 1,
                       [&](const std::string& why) { out.corrupt.push_back(why); });
  while (const JournalRecord* r = reader.next()) {
    out.seqs.push_back(r->seq);
    out.topics.emplace_back(r->topic);
  }
  return out;
}

// Damages the length field of the records numbered `seqs` in `segment`: each then claims
// megabytes, past the end of the file.
void damage_lengths(const fs::path& segment, const std::vector<uint64_t>& seqs) {
  std::vector<uint64_t> offsets;
  {  // find them first: records are whole and in order, walk them
    std::ifstream in(segment, std::ios::binary);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (size_t at = 0; at + 20 <= text.size();) {
      uint64_t seq = 0;
      std::memcpy(&seq, text.data() + at + 12, 8);
      uint32_t len = 0;
      std::memcpy(&len, text.data() + at + 4, 4);
      if (std::find(seqs.begin(), seqs.end(), seq) != seqs.end()) offsets.push_back(at);
      at += 12 + len;
    }
  }
  REQUIRE(offsets.size() == seqs.size());
  std::fstream f(segment, std::ios::in | std::ios::out | std::ios::binary);
  for (uint64_t offset : offsets) {
    f.seekp(static_cast<std::streamoff>(offset + 6));
    f.write("\x7f", 1);
  }
}

}  // namespace

TEST_CASE("a record-shaped payload inside a damaged record is not taken for records", "[journal]") {
  TempDir dir;
  JournalRecovery recovery;
  const uint64_t victim = 500;
  // Forged records numbered as the next real one, and as the next indexed one.
  const std::string forged =
      record_bytes(victim + 1, "Evil/forged", "forged") + record_bytes(1300, "Evil/forged", "x");
  {  // small segments: the damaged one is complete, others follow it
    auto j = open(dir, recovery, /*segment_size=*/64 * 1024);
    for (uint64_t seq = 1; seq <= 3000; ++seq) {
      REQUIRE(j->append(seq, "Mod/ev", "h", seq == victim ? forged : payload_of(seq)));
    }
  }
  REQUIRE(journal_segments(dir.path() / "journal").size() > 1);
  const fs::path segment = journal_segments(dir.path() / "journal").front().second;
  damage_lengths(segment, {victim});
  const Damaged read = read_damaged(dir);
  CHECK(std::count(read.topics.begin(), read.topics.end(), "Evil/forged") == 0);
  CHECK(read.seqs.size() == 2999);  // all but the damaged one
  CHECK(std::find(read.seqs.begin(), read.seqs.end(), victim) == read.seqs.end());
  CHECK(read.corrupt.size() == 1);
}

TEST_CASE("a record still being written is waited for, whatever its payload looks like",
          "[journal]") {
  TempDir dir;
  JournalRecovery recovery;
  { append_range(*open(dir, recovery), 1, 10); }
  const std::string forged = record_bytes(11, "Evil/forged", "forged");
  const std::string real = record_bytes(11, "Mod/ev", forged + std::string(1000, 'p'));
  const size_t half = real.find(forged) + forged.size() + 10;  // the forgery whole, not the rest
  const fs::path segment = journal_segments(dir.path() / "journal").back().second;
  std::ofstream out(segment, std::ios::binary | std::ios::app);
  out.write(real.data(), static_cast<std::streamsize>(half));
  out.flush();
  JournalReader reader(dir.path() / "journal", 1);
  for (uint64_t seq = 1; seq <= 10; ++seq) {
    const JournalRecord* r = reader.next();
    REQUIRE(r);
    CHECK(r->seq == seq);
  }
  CHECK(reader.next() == nullptr);  // not the forgery: the record is not whole yet
  out.write(real.data() + half, static_cast<std::streamsize>(real.size() - half));
  out.flush();
  const JournalRecord* r = reader.next();
  REQUIRE(r);
  CHECK(r->seq == 11);
  CHECK(r->topic == "Mod/ev");
}

TEST_CASE("two damaged records, the second an indexed one: reading goes on after both",
          "[journal]") {
  TempDir dir;
  JournalRecovery recovery;
  { append_range(*open(dir, recovery, /*segment_size=*/128 * 1024), 1, 4000); }
  REQUIRE(journal_segments(dir.path() / "journal").size() > 1);  // the damaged one complete
  const fs::path segment = journal_segments(dir.path() / "journal").front().second;
  // The first indexed record past 64 KiB, and the one before it.
  std::ifstream idx(fs::path(segment).replace_extension(".idx"), std::ios::binary);
  char entry[32];
  REQUIRE(idx.read(entry, 32));
  uint64_t indexed = 0;
  std::memcpy(&indexed, entry + 16, 8);
  REQUIRE(indexed > 1);
  damage_lengths(segment, {indexed - 1, indexed});
  std::vector<std::string> corrupt;
  const auto seqs = read_all(dir, 1, &corrupt);
  CHECK(seqs.size() == 3998);
  CHECK(corrupt.size() == 1);  // one damaged stretch, one report
  CHECK(seqs.back() == 4000);
}

TEST_CASE("retention deletes the oldest segments and says what is no longer retained",
          "[journal]") {
  TempDir dir;
  JournalRecovery recovery;
  JournalOptions o;
  o.dir = dir.path() / "journal";
  o.segment_size = 2000;
  o.max_bytes = 6000;
  auto j = Journal::open(o, recovery);
  REQUIRE(j);
  append_range(**j, 1, 500);
  const uint64_t first = (*j)->enforce_retention();
  CHECK(first > 1);
  uint64_t total = 0;
  for (const auto& [seq, path] : journal_segments(o.dir)) total += fs::file_size(path);
  CHECK(total <= 6000 + 2000);
  JournalReader reader(o.dir, 1);
  CHECK(reader.first_retained() == first);
  const JournalRecord* r = reader.next();
  REQUIRE(r);
  CHECK(r->seq == first);  // what is below it is reported lost by the caller, not invented
}

TEST_CASE("durability: every-event syncs each append, batch on flush", "[journal]") {
  TempDir dir;
  JournalRecovery recovery;
  {
    auto j = open(dir, recovery, 64ull << 20, Durability::kEveryEvent);
    REQUIRE(j->append(1, "Mod/ev", "hdr1", payload_of(1)));
    CHECK(j->durable_seq() == 1);
  }
  auto j = open(dir, recovery, 64ull << 20, Durability::kBatch);
  REQUIRE(j->append(2, "Mod/ev", "hdr2", payload_of(2)));
  CHECK(j->last_seq() == 2);
  CHECK(j->durable_seq() == 1);  // gathered, not yet synced
  REQUIRE(j->flush(true));
  CHECK(j->durable_seq() == 2);
}

TEST_CASE("a reader at the end picks up what is appended later, across a new segment",
          "[journal]") {
  TempDir dir;
  JournalRecovery recovery;
  auto j = open(dir, recovery, 1500);
  append_range(*j, 1, 10);
  JournalReader reader(dir.path() / "journal", 1);
  uint64_t last = 0;
  while (const JournalRecord* r = reader.next()) last = r->seq;
  CHECK(last == 10);
  append_range(*j, 11, 60);  // rolls over into further segments
  while (const JournalRecord* r = reader.next()) {
    CHECK(r->seq == last + 1);
    last = r->seq;
  }
  CHECK(last == 60);
}

TEST_CASE("crc32c matches the standard check value", "[journal]") {
  CHECK(crc32c("123456789") == 0xE3069283u);
}

TEST_CASE("after a crash the sequence goes on past every number that may have been handed out",
          "[journal]") {
  TempDir dir, crashed;
  JournalRecovery recovery;
  auto j = open(dir, recovery);
  append_range(*j, 1, 10);
  // The state a kill -9 would leave: copied while the journal is still open.
  fs::copy(dir.path() / "journal", crashed.path() / "journal", fs::copy_options::recursive);
  j.reset();  // a clean close
  auto again = open(dir, recovery);
  CHECK(recovery.last_seq == 10);
  CHECK(recovery.reserved == 10);  // clean: nothing beyond what is written
  auto after_crash = open(crashed, recovery);
  CHECK(recovery.last_seq == 10);
  CHECK(recovery.reserved == 1 + kReserveBlock);  // 11.. may have reached subscribers
}
