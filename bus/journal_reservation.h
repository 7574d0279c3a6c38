// The journal's `reserved` file: the highest sequence number a running hubd may hand out,
// so that no hubd started after a crash hands out a number again (bus/journal.h).
//
// Two slots, at offsets 0 and 512 (different sectors), each "SEQ GEN CRC\n" (a
// generation one higher each write, and a CRC-32C of the rest), written alternately in
// place: a write torn by a power cut spoils at most the slot it was writing, and the
// intact slot of the newest generation is the reservation (it may go down: a clean stop
// gives back what it did not use). In place, the file needs no new block once it has one, so a full
// disk cannot refuse a reservation. A file in the older form (one number) reads as that number.
#pragma once

#include <cstdint>
#include <filesystem>

#include "bus/journal_env.h"
#include "bus/status.h"

namespace hub {

class ReservationFile {
 public:
  // Reads the reservation in `file`: 0 when the file is missing, empty, or holds only a
  // first write that never completed (no number was handed out under it). An error that
  // names the file when it holds no valid slot otherwise, or a number past wire::kMaxSeq.
  static Result<uint64_t> read(const std::filesystem::path& file);

  // For writing `file` (in `dir`) through `env`; `env` outlives this.
  ReservationFile(JournalEnv& env, std::filesystem::path dir, std::filesystem::path file);
  ~ReservationFile();
  ReservationFile(const ReservationFile&) = delete;
  ReservationFile& operator=(const ReservationFile&) = delete;

  // Writes `through` into the slot not holding the newest write, syncs it, and the first
  // time also the directory (the file's name). The error names the file.
  Status write(uint64_t through);

 private:
  JournalEnv& env_;
  std::filesystem::path dir_;
  std::filesystem::path file_;
  int fd_ = -1;
  int next_slot_ = -1;       // -1: not known until the file is read
  uint64_t generation_ = 0;  // of the newest write
};

}  // namespace hub
