// The bus journal: every event as subscribers receive it (topic, event header, payload),
// appended to segment files in one directory (var/db/hub/journal/), each record framed
// and checksummed, so that no sequence number is ever reused and events can be read back
// after a crash. The foundation of replay and gap recovery (docs/PROTOCOL.md, to come).
//
// Files: SEQ.seg, SEQ the first sequence number in it (20 digits, so names sort in order),
// and SEQ.idx, where records start every 64 KiB of it, so readers can seek.
// Record (integers little-endian):
//   u32 magic 0x4A425548 ("HUBJ") | u32 body length | u32 CRC-32C of the body | body
//   body: u64 seq | u32 topic length | topic | u32 header length | header | payload
// A torn or corrupt tail of the newest segment is cut at open (and said so); a corrupt
// record elsewhere is reported and skipped by readers, which look for the next magic.
//
// One writer thread; readers (JournalReader) may run on other threads at the same time.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "bus/status.h"

namespace hub {

enum class Durability {
  kNone,        // written to the kernel in batches; survives a crash of hubd, not of the machine
  kBatch,       // also fsync'd at most `sync_interval` after it was appended
  kEveryEvent,  // fsync'd before append() returns
};

struct JournalOptions {
  std::filesystem::path dir;
  Durability durability = Durability::kBatch;
  std::chrono::milliseconds sync_interval{100};  // kBatch: the bound on unsynced age
  uint64_t segment_size = 64ull << 20;           // a segment is closed past this size
  uint64_t max_bytes = 1ull << 30;               // retention: oldest segments go past this
  std::chrono::seconds max_age{7 * 24 *
                               3600};  // retention: segments whose newest event is older go
  size_t buffer_size = 256 * 1024;     // appends are gathered up to this
};

// What opening found, for the log.
struct JournalRecovery {
  uint64_t last_seq = 0;  // the newest intact event (0: empty journal)
  // Numbers up to here may have been handed out (and seen by subscribers) without reaching
  // the journal before a crash: the sequence continues after max(last_seq, reserved).
  uint64_t reserved = 0;
  uint64_t first_seq = 0;  // the oldest retained one
  uint64_t cut_bytes = 0;  // torn or corrupt tail cut from the newest segment
  std::string cut_reason;  // why, when cut_bytes > 0
  size_t segments = 0;
};

uint32_t crc32c(std::string_view data, uint32_t crc = 0);

class Journal {
 public:
  // Opens (creating) the journal in options.dir: finds the segments, checks the newest
  // and cuts a torn tail. The next append must carry last_seq + 1 or more.
  static Result<std::unique_ptr<Journal>> open(JournalOptions options, JournalRecovery& recovery);
  ~Journal();  // flushes and syncs
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // Appends one event. `seq` must be larger than every earlier one. Fails only when the
  // disk does (the error names the file); the event is then not in the journal.
  // Before a number past the reservation is used, a new reservation is written and
  // synced (one small file, every kReserveBlock events), so no number is handed out twice
  // across a crash. Rolling to a new segment applies retention.
  Status append(uint64_t seq, std::string_view topic, std::string_view header,
                std::string_view payload);
  // Writes what is gathered to the kernel and, unless durability is kNone, syncs it.
  // Called by the owner at least every sync_interval while appends happen (kBatch).
  Status flush(bool sync);
  // The newest appended sequence number and the newest durable one (synced, or written
  // for kNone). Confirmations wait for the latter.
  uint64_t last_seq() const { return last_seq_; }
  uint64_t durable_seq() const { return durable_seq_; }
  // Deletes segments beyond max_bytes or max_age (never the one being written).
  // Returns the oldest sequence number still retained.
  uint64_t enforce_retention();
  const JournalOptions& options() const { return options_; }

 private:
  explicit Journal(JournalOptions options) : options_(std::move(options)) {}
  Status open_segment(uint64_t first_seq);
  Status write_out();
  Status write_reservation(uint64_t through);
  static Status write_index(const std::filesystem::path& file, const std::string& entries);

  JournalOptions options_;
  int fd_ = -1;
  int index_fd_ = -1;  // the segment's index (SEQ.idx)
  std::filesystem::path segment_;
  uint64_t segment_bytes_ = 0;  // on disk plus in buffer_
  std::string buffer_;
  std::string index_buffer_;    // entries for records in buffer_
  uint64_t next_index_at_ = 0;  // the next record starting at or past this gets an entry
  uint64_t last_seq_ = 0;
  uint64_t written_seq_ = 0;  // in the kernel
  uint64_t durable_seq_ = 0;
  uint64_t reserved_ = 0;
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

// Reads events from a sequence number on, across segments, with bounded memory. Corrupt
// records are skipped and reported through `on_corrupt` (file, offset, why).
class JournalReader {
 public:
  JournalReader(std::filesystem::path dir, uint64_t from_seq,
                std::function<void(const std::string&)> on_corrupt = {});
  ~JournalReader();
  JournalReader(const JournalReader&) = delete;
  JournalReader& operator=(const JournalReader&) = delete;

  // The next record with seq >= from_seq, or nullptr at the end of what is written now.
  const JournalRecord* next();
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

  std::filesystem::path dir_;
  uint64_t from_seq_;
  std::function<void(const std::string&)> on_corrupt_;
  std::vector<std::pair<uint64_t, std::filesystem::path>> segments_;  // by first seq
  size_t next_segment_ = 0;
  int fd_ = -1;
  std::filesystem::path file_;
  uint64_t file_offset_ = 0;  // of buffer_[0]
  std::string buffer_;
  size_t pos_ = 0;
  JournalRecord record_;
  uint64_t first_retained_ = 0;
  std::vector<std::pair<uint64_t, uint64_t>> index_;  // the open segment's: (seq, offset)
  bool index_loaded_ = false;
};

// The segments of `dir`, oldest first: (first seq, path). Files with other names are
// ignored.
std::vector<std::pair<uint64_t, std::filesystem::path>> journal_segments(
    const std::filesystem::path& dir);

}  // namespace hub
