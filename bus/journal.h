// The bus journal: every event as subscribers receive it (topic, event header, payload),
// appended to segment files in one directory (var/db/hub/journal/), each record framed
// and checksummed, so that no sequence number is ever reused and events can be read back
// after a crash. The foundation of replay and gap recovery (docs/PROTOCOL.md, 8a).
//
// Files: SEQ.seg, SEQ the first sequence number in it (20 digits, so names sort in order),
// and SEQ.idx, where records start every 64 KiB of it, so readers can seek. `reserved`: the
// highest number a running hubd may hand out (rewritten in place, synced, every
// kReserveBlock events; bus/journal_reservation.h). `durable`: the newest number known durable
// (rewritten in place after every sync; not synced itself), so that an open can tell events that
// were acknowledged and are gone from numbers that were only reserved. Record (integers
// little-endian):
//   u32 magic 0x4A425548 ("HUBJ") | u32 body length | u32 CRC-32C of the body | body
//   body: u64 seq | u32 topic length | topic | u32 header length | header | payload
// A torn or corrupt tail of the newest segment is cut at open (and said so); a corrupt
// record elsewhere is reported and skipped by readers, which look for the next magic.
//
// Failures (the contract acknowledgements rest on): an event is durable once
// durable_seq() reaches it and it is not in a loss (last_loss()). A write or sync that
// fails (ENOSPC, EIO, EROFS, ...) loses exactly the events appended since the last
// point the journal can vouch for: a failed write those not yet written, a failed sync
// those not yet synced. They are cut from the file (never half a record left for later
// records to follow; when the file cannot be cut, the next append starts a new segment),
// reported by last_loss(), and never come back. The journal goes on with the next append:
// once the disk takes writes again, it works again, without reopening.
// Sequence numbers never wrap or repeat: they are at most wire::kMaxSeq; an out-of-range
// `reserved`, `durable` or segment name is an error at open that names the file.
//
// One writer thread; readers (JournalReader) may run on other threads at the same time.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bus/journal_env.h"
#include "bus/journal_reservation.h"
#include "bus/status.h"
#include "bus/unique_fd.h"

namespace hub {

enum class Durability {
  kNone,        // written to the kernel in batches; survives a crash of hubd, not of the machine
  kBatch,       // also fsync'd at most `sync_interval` after it was appended
  kEveryEvent,  // fsync'd before append() returns
};

// hub.yml's names for them (journal.durability): "none", "batch", "every-event".
constexpr const char* durability_name(Durability d) {
  return d == Durability::kNone ? "none" : d == Durability::kBatch ? "batch" : "every-event";
}
// The durability named `name`, if any.
inline std::optional<Durability> durability_named(std::string_view name) {
  for (Durability d : {Durability::kNone, Durability::kBatch, Durability::kEveryEvent}) {
    if (name == durability_name(d)) return d;
  }
  return std::nullopt;
}

// Defaults of the options below that hub.yml sets too (journal:).
inline constexpr Durability kDefaultDurability = Durability::kBatch;
inline constexpr std::chrono::milliseconds kDefaultSyncInterval{100};
inline constexpr uint64_t kDefaultSegmentSize = 64ull << 20;
inline constexpr uint64_t kDefaultJournalMaxBytes = 1ull << 30;
inline constexpr std::chrono::seconds kDefaultJournalMaxAge{7 * 24 * 3600};

struct JournalOptions {
  std::filesystem::path dir;
  Durability durability = kDefaultDurability;
  std::chrono::milliseconds sync_interval = kDefaultSyncInterval;  // kBatch: bound on unsynced age
  uint64_t segment_size = kDefaultSegmentSize;   // a segment is closed past this size
  uint64_t max_bytes = kDefaultJournalMaxBytes;  // retention: oldest segments go past this
  // Retention: segments whose newest event is older go.
  std::chrono::seconds max_age = kDefaultJournalMaxAge;
  size_t buffer_size = 256 * 1024;  // appends are gathered up to this
  JournalEnv* env = nullptr;        // the file operations; nullptr: JournalEnv::posix()
};

// What opening found, for the log and Hub/recovered.
struct JournalRecovery {
  uint64_t last_seq = 0;  // the newest intact event (0: empty journal)
  // Numbers up to here may have been handed out (and seen by subscribers) without reaching
  // the journal before a crash; none of them was acknowledged.
  uint64_t reserved = 0;
  // Every event up to here was durable (confirmed publishes among them were acknowledged
  // as accepted). 0: not known (a journal from before the mark was kept).
  uint64_t durable = 0;
  uint64_t first_seq = 0;  // the oldest retained one
  uint64_t cut_bytes = 0;  // torn or corrupt tail cut from the newest segment
  std::string cut_reason;  // why, when cut_bytes > 0
  size_t segments = 0;
  // Why the newest segment's index could not be rebuilt (readers scan it instead), or "".
  std::string index_problem;

  // Durable once, missing now (a cut or deleted newest segment): acknowledged events
  // among them are lost. Empty (first > last) when nothing durable is missing.
  uint64_t lost_first() const { return last_seq + 1; }
  uint64_t lost_last() const { return durable > last_seq ? durable : last_seq; }
  // Reserved past everything durable, never acknowledged: not events anyone relied on.
  uint64_t skipped_first() const { return lost_last() + 1; }
  uint64_t skipped_last() const { return reserved > lost_last() ? reserved : lost_last(); }
  // The sequence goes on after this.
  uint64_t next_after() const { return skipped_last(); }
};

// The events one failure cost: those appended with numbers first..last are not in the
// journal and never will be. {0, 0}: none.
struct JournalLoss {
  uint64_t first = 0;
  uint64_t last = 0;
  bool empty() const { return first == 0 || first > last; }
};

uint32_t crc32c(std::string_view data, uint32_t crc = 0);

class Journal {
 public:
  // Opens (creating) the journal in options.dir: finds the segments, checks the newest
  // and cuts a torn tail. The next append must carry recovery.next_after() + 1 or more.
  // Fails naming the file when one cannot be read, or holds a number out of range.
  static Result<std::unique_ptr<Journal>> open(JournalOptions options, JournalRecovery& recovery);
  ~Journal();  // flushes and syncs
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // Makes sure no hubd, after a crash of this one, hands out `seq` again: past the
  // reservation, a new one is written and synced (one small file, every kReserveBlock
  // events). Fails when that file cannot be written, or `seq` is past wire::kMaxSeq:
  // `seq` must then not be handed out. Cheap otherwise. append() calls it too.
  Status reserve(uint64_t seq);
  // Appends one event. `seq` must be larger than every earlier one. On failure (the error
  // names the file), last_loss() says which events are lost: this one and perhaps others
  // gathered before it; a failed reservation loses nothing (the number is not used).
  Status append(uint64_t seq, std::string_view topic, std::string_view header,
                std::string_view payload);
  // Writes what is gathered to the kernel and, when `sync` and durability is not kNone,
  // syncs it. On failure, last_loss() says which events are lost. Called by the owner at
  // least every sync_interval while appends happen (kBatch).
  Status flush(bool sync);
  // The newest number appended (lost or not), and the newest durable one (synced, or
  // written for kNone). Confirmations wait for the latter.
  uint64_t last_seq() const { return last_seq_; }
  uint64_t durable_seq() const { return durable_seq_; }
  // True when something appended is not yet durable: a flush(true) is due.
  bool unsynced() const { return !buffer_.empty() || written_seq_ > durable_seq_; }
  // The events the last failed append() or flush() lost (successive losses never overlap).
  const JournalLoss& last_loss() const { return last_loss_; }
  // Deletes segments beyond max_bytes or max_age, never the one being written nor the one
  // before it. Returns the oldest sequence number still retained. append() never deletes:
  // the owner calls this once the acks of the events appended so far are sent (an
  // acknowledged event outlives its ack), at least whenever retention_due() says a
  // segment rolled over.
  uint64_t enforce_retention();
  bool retention_due() const { return retention_due_; }
  const JournalOptions& options() const { return options_; }

 private:
  explicit Journal(JournalOptions options);
  Status open_segment(uint64_t first_seq);
  Status write_out();
  Status lose(const std::string& why, uint64_t kept_seq, uint64_t kept_bytes);
  Status write_reservation(uint64_t through);
  void write_durable_mark();
  Status write_index(const std::filesystem::path& file, const std::string& entries);

  JournalOptions options_;
  JournalEnv* env_;
  ReservationFile reservation_;  // `reserved`
  int fd_ = -1;
  int index_fd_ = -1;                 // the segment's index (SEQ.idx); -1: none (readers scan)
  int mark_fd_ = -1;                  // `durable`
  bool segment_name_durable_ = true;  // false: the directory is synced with the next sync
  bool retention_due_ = false;        // a segment rolled over since the last enforce_retention
  std::filesystem::path segment_;
  uint64_t segment_bytes_ = 0;  // on disk plus in buffer_
  uint64_t written_bytes_ = 0;  // whole records in the segment file
  uint64_t durable_bytes_ = 0;  // of which synced (kNone: written)
  bool new_segment_ = false;    // a failure left the segment uncut: the next append starts one
  std::string buffer_;
  std::string index_buffer_;    // entries for records in buffer_
  uint64_t next_index_at_ = 0;  // the next record starting at or past this gets an entry
  uint64_t last_seq_ = 0;       // numbered: appended, or being appended
  uint64_t buffered_seq_ = 0;   // the newest in buffer_ (or written)
  uint64_t written_seq_ = 0;    // in the kernel
  uint64_t durable_seq_ = 0;
  uint64_t reserved_ = 0;
  uint64_t lost_through_ = 0;  // the newest number a failure lost
  JournalLoss last_loss_;
};

inline constexpr uint64_t kReserveBlock = 100000;

// One journalled event, as read back. Views into the reader's buffer: valid until the
// next call to next().
struct JournalRecord {
  uint64_t seq = 0;
  std::string_view topic;
  std::string_view header;
  std::string_view payload;
};

// Numbers a reader found missing from the journal, first..last, and what it knows of why.
struct JournalGap {
  uint64_t first = 0;
  uint64_t last = 0;
  std::string why;
};

// Reads events from a sequence number on, across segments, with bounded memory. A damaged
// record is reported once through `on_corrupt` (file, offset, why) and skipped: reading
// goes on at the first intact record after it from which intact records lead exactly to
// the next indexed record (or the end of the segment), so intact records are not hidden
// and a record-shaped payload inside the damaged record is not taken for records (at
// most one, numbered as the damaged one, could pass). The search examines at most
// kMaxResyncBytes; past that, reading goes on at the next indexed record. In the newest
// segment a record that runs past the end is taken for one being written: a damaged length
// there holds the reader until the segment rolls over. Every number
// missing between from_seq and a record returned is reported through gaps(), except the
// numbers a Hub/recovered event says were only reserved (never acknowledged).
class JournalReader {
 public:
  JournalReader(std::filesystem::path dir, uint64_t from_seq,
                std::function<void(const std::string&)> on_corrupt = {});
  ~JournalReader();
  JournalReader(const JournalReader&) = delete;
  JournalReader& operator=(const JournalReader&) = delete;

  // The next record with seq >= from_seq, or nullptr at the end of what is written now.
  const JournalRecord* next();
  // The numbers missing right before the record next() returned last (empty: none).
  const std::vector<JournalGap>& gaps() const { return gaps_; }
  // The oldest sequence number on disk when the reader started (0: none): events below
  // it are no longer retained.
  uint64_t first_retained() const { return first_retained_; }

 private:
  bool open_next_segment();
  bool advance();  // on to the next segment, if there is one by now
  bool fill(size_t at_least);
  void seek(uint64_t seq);
  void load_index();
  bool record_at(uint64_t offset, uint64_t seq);
  void note_gap_before(const JournalRecord& record);
  void note(const std::string& what);  // adds to trouble_
  bool segment_complete();             // a newer segment exists: this one grows no more
  // The record at pos_ is damaged: reported, and reading goes on at `resume`.
  void damaged(const std::string& why, uint64_t resume);
  uint64_t resume_after_damage(uint64_t at);
  bool intact_chain(uint64_t from, uint64_t end, uint64_t end_seq, bool end_is_eof,
                    uint64_t& budget);

  std::filesystem::path dir_;
  uint64_t from_seq_;
  std::function<void(const std::string&)> on_corrupt_;
  std::vector<std::pair<uint64_t, std::filesystem::path>> segments_;  // by first seq
  size_t next_segment_ = 0;
  unique_fd fd_;
  std::filesystem::path file_;
  uint64_t file_offset_ = 0;  // of buffer_[0]
  std::string buffer_;
  size_t pos_ = 0;
  JournalRecord record_;
  uint64_t first_retained_ = 0;
  std::vector<std::pair<uint64_t, uint64_t>> index_;  // the open segment's: (seq, offset)
  bool index_loaded_ = false;
  uint64_t expect_;         // the number the next record should carry
  uint64_t last_read_ = 0;  // the newest record read (any seq), for the reasons of gaps
  std::string trouble_;     // what was met since the last record: the why of a gap
  std::vector<JournalGap> gaps_;
};

// The segments of `dir`, oldest first: (first seq, path). Files with other names, and
// names out of range (0, or past wire::kMaxSeq), are left out.
std::vector<std::pair<uint64_t, std::filesystem::path>> journal_segments(
    const std::filesystem::path& dir);

// What the journal in `dir` holds on disk now, read from the directory (safe from any
// thread while the journal is written): its segments, their bytes with their indexes, and
// the oldest sequence number retained (the first of the oldest segment; 0: none).
struct JournalDiskUsage {
  size_t segments = 0;
  uint64_t bytes = 0;
  uint64_t first_seq = 0;
};
JournalDiskUsage journal_disk_usage(const std::filesystem::path& dir);

}  // namespace hub
