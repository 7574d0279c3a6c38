#include "bus/journal_reservation.h"

#include <fcntl.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>

#include "bus/journal.h"
#include "bus/small_file.h"
#include "bus/wire.h"

namespace hub {
namespace {

namespace fs = std::filesystem;

// "SEQ GEN CRC\n": SEQ 20 digits, GEN the slot's generation in 16 hex digits (each write
// one more than the newest), CRC the CRC-32C of "SEQ GEN" in 8 hex digits.
constexpr size_t kSlotBytes = 47;
constexpr uint64_t kSlotOffset[2] = {0, 512};

struct Slot {
  uint64_t seq = 0;
  uint64_t generation = 0;  // 0: the older form, one number
};

std::string slot_text(const Slot& slot) {
  char body[48];
  std::snprintf(body, sizeof body, "%020llu %016llx", static_cast<unsigned long long>(slot.seq),
                static_cast<unsigned long long>(slot.generation));
  char text[64];
  std::snprintf(text, sizeof text, "%s %08x\n", body,
                static_cast<unsigned>(crc32c(std::string_view(body, 37))));
  return text;
}

std::optional<uint64_t> parse_number(std::string_view text, int base) {
  if (text.empty()) return std::nullopt;
  uint64_t value = 0;
  for (char c : text) {
    int digit = -1;
    if (c >= '0' && c <= '9') digit = c - '0';
    if (base == 16 && c >= 'a' && c <= 'f') digit = c - 'a' + 10;
    if (digit < 0) return std::nullopt;
    const auto d = static_cast<uint64_t>(digit);
    if (value > (UINT64_MAX - d) / static_cast<uint64_t>(base)) return std::nullopt;
    value = value * static_cast<uint64_t>(base) + d;
  }
  return value;
}

// The slot at the start of `text`, when it holds one intact; anything torn or damaged
// is none (a number out of range is still a slot: the caller refuses it).
std::optional<Slot> slot_at(std::string_view text) {
  if (text.size() < kSlotBytes || text[20] != ' ' || text[37] != ' ' || text[46] != '\n') {
    return std::nullopt;
  }
  const auto seq = parse_number(text.substr(0, 20), 10);
  const auto generation = parse_number(text.substr(21, 16), 16);
  const auto crc = parse_number(text.substr(38, 8), 16);
  if (!seq || !generation || !crc || *crc != crc32c(text.substr(0, 37))) return std::nullopt;
  return Slot{*seq, *generation};
}

// The older form: one number and a newline, NULs after it where slot 1 was written since.
std::optional<Slot> older_form(std::string_view text) {
  while (!text.empty() && text.back() == '\0') text.remove_suffix(1);
  if (text.empty() || text.back() != '\n') return std::nullopt;
  text.remove_suffix(1);
  const auto seq = text.size() <= 20 ? parse_number(text, 10) : std::nullopt;
  if (!seq) return std::nullopt;
  return Slot{*seq, 0};
}

// What a first slot write cut short leaves: a prefix of one, no newline yet (or nothing).
bool unfinished_first_write(std::string_view text) {
  while (!text.empty() && text.back() == '\0') text.remove_suffix(1);
  return text.size() < kSlotBytes && text.find('\n') == std::string_view::npos &&
         std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == ' ';
         });
}

// Slot 0 (or the older form in its place) and slot 1, as far as they are intact.
std::array<std::optional<Slot>, 2> slots_of(std::string_view text) {
  std::array<std::optional<Slot>, 2> slots;
  for (size_t i = 0; i < 2; ++i) {
    if (text.size() > kSlotOffset[i]) slots[i] = slot_at(text.substr(kSlotOffset[i]));
  }
  if (!slots[0]) slots[0] = older_form(text.substr(0, kSlotOffset[1]));
  return slots;
}

// Which of the two holds the newest write: -1 when neither is intact.
int newest(const std::array<std::optional<Slot>, 2>& slots) {
  if (!slots[0] && !slots[1]) return -1;
  if (!slots[1]) return 0;
  if (!slots[0]) return 1;
  return slots[1]->generation > slots[0]->generation ? 1 : 0;
}

}  // namespace

Result<uint64_t> ReservationFile::read(const fs::path& file) {
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(file, ec))) return uint64_t{0};
  auto text = read_small_file(file, 4096);
  if (!text) return text.status();
  const auto slots = slots_of(*text);
  const int at = newest(slots);
  if (at < 0) {
    if (unfinished_first_write(*text)) return uint64_t{0};
    std::string shown = text->substr(0, 40);
    for (char& c : shown) {
      if (c == '\n' || c == '\r' || c == '\0') c = ' ';
    }
    return Status::error(file.string() + ": expected a sequence number, found '" + shown +
                         "' (a damaged file: the journal cannot vouch for its numbers)");
  }
  const uint64_t seq = slots[static_cast<size_t>(at)]->seq;
  if (seq == 0 || seq > wire::kMaxSeq) {
    return Status::error(file.string() + ": expected a sequence number from 1 to " +
                         std::to_string(wire::kMaxSeq) + ", found " + std::to_string(seq) +
                         " (a damaged file: the journal cannot vouch for its numbers)");
  }
  return seq;
}

ReservationFile::ReservationFile(JournalEnv& env, fs::path dir, fs::path file)
    : env_(env), dir_(std::move(dir)), file_(std::move(file)) {}

ReservationFile::~ReservationFile() {
  if (fd_ >= 0) env_.close(fd_);
}

Status ReservationFile::write(uint64_t through) {
  const auto fail = [this](int err) {
    return Status::error(file_.string() + ": cannot be written: " + std::strerror(err));
  };
  if (fd_ < 0) {
    if (int err = env_.open(file_, O_RDWR | O_CREAT | O_CLOEXEC, 0640, fd_); err != 0) {
      fd_ = -1;
      return fail(err);
    }
    // The name too, once: an older hubd renamed the file into place without syncing.
    if (int err = env_.sync_dir(dir_); err != 0) {
      env_.close(fd_);
      fd_ = -1;
      return fail(err);
    }
  }
  if (next_slot_ < 0) {  // over the slot not holding the newest write, which stays
    auto text = read_small_file(file_, 4096);
    const auto slots = text ? slots_of(*text) : std::array<std::optional<Slot>, 2>{};
    const int at = newest(slots);
    next_slot_ = at == 0 ? 1 : 0;
    generation_ = at < 0 ? 0 : slots[static_cast<size_t>(at)]->generation;
  }
  const std::string text = slot_text(Slot{through, generation_ + 1});
  int err = env_.pwrite(fd_, text.data(), text.size(), kSlotOffset[next_slot_]);
  if (err == 0) err = env_.sync(fd_);
  if (err != 0) return fail(err);
  ++generation_;
  next_slot_ = 1 - next_slot_;
  return Status::ok();
}

}  // namespace hub
