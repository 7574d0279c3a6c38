#include "bus/journal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "bus/credentials.h"
#include "bus/wire.h"

namespace hub {
namespace fs = std::filesystem;
namespace {

constexpr uint32_t kMagic = 0x4A425548;  // "HUBJ" read as little-endian bytes
constexpr size_t kFrame = 12;            // magic, length, crc
constexpr uint32_t kMaxBody = 64u << 20;
constexpr size_t kReadChunk = 256 * 1024;
constexpr uint64_t kIndexEvery = 64 * 1024;  // bytes of segment per index entry

void put32(std::string& out, uint32_t v) {
  char b[4];
  for (int i = 0; i < 4; ++i) b[i] = static_cast<char>(v >> (8 * i));
  out.append(b, 4);
}
void put64(std::string& out, uint64_t v) {
  char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<char>(v >> (8 * i));
  out.append(b, 8);
}
uint32_t get32(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}
uint64_t get64(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

std::array<uint32_t, 256> crc_table() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    t[i] = c;
  }
  return t;
}

__attribute__((target("sse4.2"))) uint32_t crc32c_sse42(std::string_view data, uint32_t crc) {
  uint64_t c = ~crc;
  size_t i = 0;
  for (; i + 8 <= data.size(); i += 8) {
    uint64_t word;
    std::memcpy(&word, data.data() + i, 8);
    c = __builtin_ia32_crc32di(c, word);
  }
  uint32_t c32 = static_cast<uint32_t>(c);
  for (; i < data.size(); ++i)
    c32 = __builtin_ia32_crc32qi(c32, static_cast<unsigned char>(data[i]));
  return ~c32;
}

std::string segment_name(uint64_t first_seq) {
  char name[32];
  std::snprintf(name, sizeof name, "%020llu.seg", static_cast<unsigned long long>(first_seq));
  return name;
}

// The index of a segment (SEQ.idx beside SEQ.seg): every kIndexEvery bytes of segment,
// the offset and seq of the record that starts there, as (u64 seq, u64 offset) little-
// endian pairs. Written by the journal itself, so a reader can trust where it points (a
// payload can hold bytes that look like records; a scan for markers could be fooled),
// and checked anyway against the record found there.
fs::path index_of(const fs::path& segment) {
  fs::path index = segment;
  return index.replace_extension(".idx");
}

void put_entry(std::string& out, uint64_t seq, uint64_t offset) {
  put64(out, seq);
  put64(out, offset);
}

// A body of `n` bytes at `p`: its seq, or 0 when its inner lengths do not add up.
uint64_t body_seq(const char* p, size_t n, JournalRecord* out) {
  if (n < 16) return 0;
  const uint64_t seq = get64(p);
  const uint32_t topic_len = get32(p + 8);
  if (topic_len > n - 12 || n - 12 - topic_len < 4) return 0;
  const uint32_t header_len = get32(p + 12 + topic_len);
  if (header_len > n - 16 - topic_len) return 0;
  if (out != nullptr) {
    out->seq = seq;
    out->topic = std::string_view(p + 12, topic_len);
    out->header = std::string_view(p + 16 + topic_len, header_len);
    out->payload =
        std::string_view(p + 16 + topic_len + header_len, n - 16 - topic_len - header_len);
  }
  return seq;
}

// Checks the record framed at `p` (with `avail` bytes from there). Returns its total
// size, or 0 with `why` set.
size_t check_record(const char* p, size_t avail, std::string& why, JournalRecord* out = nullptr) {
  if (avail < kFrame) {
    why = "a record cut short";
    return 0;
  }
  if (get32(p) != kMagic) {
    why = "no record marker";
    return 0;
  }
  const uint32_t len = get32(p + 4);
  if (len > kMaxBody) {
    why = "an impossible record length " + std::to_string(len);
    return 0;
  }
  if (avail < kFrame + len) {
    why = "a record cut short";
    return 0;
  }
  if (crc32c(std::string_view(p + kFrame, len)) != get32(p + 8)) {
    why = "a checksum mismatch";
    return 0;
  }
  if (body_seq(p + kFrame, len, out) == 0) {
    why = "a malformed record";
    return 0;
  }
  return kFrame + len;
}

Result<std::string> read_whole(const fs::path& file) {
  // Non-blocking and checked to be a regular file: a FIFO or a directory put in the
  // journal's place is an error, not a hang.
  const unique_fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (!fd) return Status::error(file.string() + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return Status::error(file.string() + ": not a regular file");
  }
  // Read straight into the string (a buffer on the stack would stay resident for good).
  std::string text;
  for (;;) {
    const size_t have = text.size();
    text.resize(have + kReadChunk);
    const ssize_t n = ::read(fd.get(), text.data() + have, kReadChunk);
    text.resize(have + static_cast<size_t>(std::max<ssize_t>(n, 0)));
    if (n <= 0) break;
  }
  return text;
}

// A sequence number written as decimal text (`digits`, surrounding whitespace allowed):
// 1..wire::kMaxSeq, or 0 when `zero_ok`. nullopt when it is anything else.
std::optional<uint64_t> parse_seq(std::string_view text, bool zero_ok) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  if (text.empty() || text.size() > 20) return std::nullopt;
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (value > (wire::kMaxSeq - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  if (value == 0 && !zero_ok) return std::nullopt;
  return value;
}

// The number in one of the journal's small files (`reserved`, `durable`): 0 when the file
// does not exist (or, when `empty_ok`, is empty); an error naming it when it holds
// anything but a number in range.
Result<uint64_t> read_seq_file(const fs::path& file, bool empty_ok) {
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(file, ec))) return uint64_t{0};
  auto text = read_whole(file);
  if (!text) return text.status();
  if (empty_ok && text->find_first_not_of(" \t\r\n") == std::string::npos) return uint64_t{0};
  const auto value = parse_seq(*text, /*zero_ok=*/false);
  if (!value) {
    std::string shown = text->substr(0, 40);
    while (!shown.empty() && (shown.back() == '\n' || shown.back() == '\r')) shown.pop_back();
    return Status::error(file.string() + ": expected a sequence number from 1 to " +
                         std::to_string(wire::kMaxSeq) + ", found '" + shown +
                         "' (a damaged file: the journal cannot vouch for its numbers)");
  }
  return *value;
}

std::string seq_text(uint64_t seq) {
  char text[32];
  std::snprintf(text, sizeof text, "%020llu\n", static_cast<unsigned long long>(seq));
  return text;
}

std::string errno_text(int err) { return std::strerror(err); }

// The last intact seq in `text` (a whole segment) and where the intact part ends. A bad
// record followed by good ones is left for readers to skip (it is not a torn tail); only
// what follows the last good record is the tail to cut.
uint64_t scan_segment(const std::string& text, size_t& good_end, std::string& why,
                      std::string* index = nullptr) {
  uint64_t last = 0;
  size_t pos = 0;
  good_end = 0;
  uint64_t next_entry = 0;
  const std::string marker("HUBJ", 4);
  while (pos < text.size()) {
    JournalRecord r;
    std::string problem;
    const size_t size = check_record(text.data() + pos, text.size() - pos, problem, &r);
    if (size > 0 && r.seq > last) {
      if (index != nullptr && pos >= next_entry && pos == good_end) {  // walked to, not found
        put_entry(*index, r.seq, pos);
        next_entry = pos + kIndexEvery;
      }
      last = r.seq;
      pos += size;
      good_end = pos;
      continue;
    }
    // The problem right after the last good record so far is what a cut will be for.
    if (pos == good_end) why = size > 0 ? "a sequence number that goes backwards" : problem;
    const size_t at = text.find(marker, pos + 1);  // a good record further on?
    if (at == std::string::npos) break;
    pos = at;
  }
  if (good_end == text.size()) why.clear();
  return last;
}

}  // namespace

uint32_t crc32c(std::string_view data, uint32_t crc) {
  static const bool hardware = __builtin_cpu_supports("sse4.2");
  if (hardware) return crc32c_sse42(data, crc);
  static const std::array<uint32_t, 256> table = crc_table();
  uint32_t c = ~crc;
  for (char ch : data) c = table[(c ^ static_cast<unsigned char>(ch)) & 0xFF] ^ (c >> 8);
  return ~c;
}

std::vector<std::pair<uint64_t, fs::path>> journal_segments(const fs::path& dir) {
  std::vector<std::pair<uint64_t, fs::path>> found;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() != 24 || name.compare(20, 4, ".seg") != 0) continue;
    if (const auto first = parse_seq(std::string_view(name).substr(0, 20), false)) {
      found.emplace_back(*first, it->path());
    }
  }
  std::sort(found.begin(), found.end());
  return found;
}

JournalDiskUsage journal_disk_usage(const fs::path& dir) {
  JournalDiskUsage usage;
  const auto segments = journal_segments(dir);
  usage.segments = segments.size();
  if (!segments.empty()) usage.first_seq = segments.front().first;
  for (const auto& [first, path] : segments) {
    std::error_code ec;  // a segment retention deleted meanwhile counts nothing
    const uintmax_t size = fs::file_size(path, ec);
    if (!ec) usage.bytes += size;
    const uintmax_t index = fs::file_size(index_of(path), ec);
    if (!ec) usage.bytes += index;
  }
  return usage;
}

namespace {

// A name that looks like a segment's (20 digits, .seg) but cannot be one: an error, as
// the numbers in it would be out of range.
Status check_segment_names(const fs::path& dir) {
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() != 24 || name.compare(20, 4, ".seg") != 0 ||
        !std::all_of(name.begin(), name.begin() + 20, [](char c) { return c >= '0' && c <= '9'; }))
      continue;
    if (!parse_seq(std::string_view(name).substr(0, 20), false)) {
      return Status::error(it->path().string() +
                           ": not a segment the journal can have written (its first "
                           "sequence number must be from 1 to " +
                           std::to_string(wire::kMaxSeq) + ")");
    }
  }
  return Status::ok();
}

}  // namespace

Journal::Journal(JournalOptions options)
    : options_(std::move(options)),
      env_(options_.env != nullptr ? options_.env : &JournalEnv::posix()),
      reservation_(*env_, options_.dir, options_.dir / "reserved") {}

Result<std::unique_ptr<Journal>> Journal::open(JournalOptions options, JournalRecovery& recovery) {
  std::error_code ec;
  fs::create_directories(options.dir, ec);
  if (ec) return Status::error(options.dir.string() + ": cannot be created: " + ec.message());
  ::chmod(options.dir.c_str(), 0750);
  auto journal = std::unique_ptr<Journal>(new Journal(std::move(options)));
  JournalEnv& env = *journal->env_;
  const fs::path& dir = journal->options_.dir;
  if (Status s = check_segment_names(dir); !s) return s;
  auto segments = journal_segments(dir);
  recovery = {};
  recovery.segments = segments.size();
  // The newest segment with an intact record gives the last seq; a torn tail is cut.
  for (auto it = segments.rbegin(); it != segments.rend(); ++it) {
    auto text = read_whole(it->second);
    if (!text) return text.status();
    size_t good_end = 0;
    std::string why;
    std::string index;
    const uint64_t last = scan_segment(*text, good_end, why, &index);
    if (last > wire::kMaxSeq) {
      return Status::error(it->second.string() + ": holds sequence number " + std::to_string(last) +
                           ", past the largest, " + std::to_string(wire::kMaxSeq));
    }
    if (it == segments.rbegin()) {  // rebuilt: what a crash left of it may be behind or past
      // Without it readers scan the segment: slower, nothing lost (a full disk, say).
      if (Status s = journal->write_index(index_of(it->second), index); !s) {
        recovery.index_problem = s.message();
        index.clear();
      }
      journal->next_index_at_ =
          index.empty() ? 0 : get64(index.data() + index.size() - 8) + kIndexEvery;
    }
    if (good_end < text->size() && it == segments.rbegin()) {
      int fd = -1;
      int err = env.open(it->second, O_WRONLY | O_CLOEXEC, 0, fd);
      if (err == 0) {
        err = env.truncate(fd, good_end);
        env.close(fd);
      }
      if (err != 0) {
        return Status::error(it->second.string() +
                             ": cannot cut its torn tail: " + errno_text(err));
      }
      recovery.cut_bytes = text->size() - good_end;
      recovery.cut_reason =
          it->second.filename().string() + " at byte " + std::to_string(good_end) + ": " + why;
    }
    if (last > 0) {
      recovery.last_seq = last;
      break;
    }
  }
  auto reserved = ReservationFile::read(dir / "reserved");
  if (!reserved) return reserved.status();
  recovery.reserved = *reserved;
  (void)env.unlink(dir / "reserved.new");  // left by an older hubd, which renamed it
  auto durable = read_seq_file(dir / "durable", /*empty_ok=*/true);  // empty: never synced
  if (!durable) return durable.status();
  recovery.durable = *durable;
  journal->reserved_ = recovery.next_after();
  if (int err = env.open(dir / "durable", O_RDWR | O_CREAT | O_CLOEXEC, 0640, journal->mark_fd_);
      err != 0) {
    return Status::error((dir / "durable").string() + ": " + errno_text(err));
  }
  if (!segments.empty()) {
    recovery.first_seq = segments.front().first;
    journal->segment_ = segments.back().second;
    if (int err = env.open(journal->segment_, O_WRONLY | O_APPEND | O_CLOEXEC, 0, journal->fd_);
        err != 0) {
      return Status::error(journal->segment_.string() + ": " + errno_text(err));
    }
    // What it holds counts as durable from now on: a hubd killed before its sync left it
    // written, not synced, and perhaps its name too.
    int err = env.sync(journal->fd_);
    if (err == 0) err = env.sync_dir(dir);
    if (err != 0)
      return Status::error(journal->segment_.string() + ": cannot be synced: " + errno_text(err));
    struct stat st {};
    ::fstat(journal->fd_, &st);
    journal->segment_bytes_ = journal->written_bytes_ = journal->durable_bytes_ =
        static_cast<uint64_t>(st.st_size);
    if (env.open(index_of(journal->segment_), O_WRONLY | O_APPEND | O_CLOEXEC, 0,
                 journal->index_fd_) != 0) {
      journal->index_fd_ = -1;  // readers scan instead
    }
  }
  // Numbers up to next_after() are spoken for, used or not: the next append goes past.
  journal->last_seq_ = journal->lost_through_ = recovery.next_after();
  journal->buffered_seq_ = journal->written_seq_ = journal->durable_seq_ = recovery.last_seq;
  journal->buffer_.reserve(journal->options_.buffer_size + 4096);
  return journal;
}

Journal::~Journal() {
  (void)flush(true);
  if (fd_ >= 0) env_->close(fd_);
  if (index_fd_ >= 0) env_->close(index_fd_);
  // A clean close hands out nothing beyond what it numbered: the next run goes on from it.
  if (last_seq_ > 0) (void)write_reservation(last_seq_);
  if (mark_fd_ >= 0) env_->close(mark_fd_);
}

Status Journal::write_index(const fs::path& file, const std::string& entries) {
  int fd = -1;
  if (int err = env_->open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640, fd); err != 0) {
    return Status::error(file.string() + ": " + errno_text(err));
  }
  size_t written = 0;
  int err = entries.empty() ? 0 : env_->write(fd, entries.data(), entries.size(), written);
  if (err == 0 && written != entries.size()) err = ENOSPC;
  if (err != 0) (void)env_->truncate(fd, 0);  // never half an entry: readers scan instead
  env_->close(fd);
  if (err != 0) return Status::error(file.string() + ": cannot be written: " + errno_text(err));
  return Status::ok();
}

Status Journal::write_reservation(uint64_t through) {
  if (Status s = reservation_.write(through); !s) return s;
  reserved_ = through;
  return Status::ok();
}

// Best effort: a stale mark only makes a later open under-report (never over-report)
// what was durable; the events themselves are durable either way.
void Journal::write_durable_mark() {
  if (mark_fd_ < 0 || durable_seq_ == 0) return;
  const std::string text = seq_text(durable_seq_);
  (void)env_->pwrite(mark_fd_, text.data(), text.size(), 0);
}

Status Journal::open_segment(uint64_t first_seq) {
  if (Status s = flush(true); !s) return s;
  if (fd_ >= 0) env_->close(fd_);
  if (index_fd_ >= 0) env_->close(index_fd_);
  fd_ = index_fd_ = -1;
  segment_ = options_.dir / segment_name(first_seq);
  if (int err = env_->open(segment_, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640, fd_);
      err != 0) {
    fd_ = -1;
    return lose(segment_.string() + ": cannot be created: " + errno_text(err), written_seq_, 0);
  }
  struct stat st {};  // empty, unless an earlier attempt left this very segment behind
  ::fstat(fd_, &st);
  segment_bytes_ = written_bytes_ = durable_bytes_ = static_cast<uint64_t>(st.st_size);
  next_index_at_ = segment_bytes_;
  new_segment_ = false;
  segment_name_durable_ = false;
  if (env_->open(index_of(segment_), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0640,
                 index_fd_) != 0) {
    index_fd_ = -1;  // no index: readers scan this segment instead
  }
  return Status::ok();
}

Status Journal::reserve(uint64_t seq) {
  if (seq > wire::kMaxSeq) {
    return Status::error(options_.dir.string() + ": the sequence is exhausted (" +
                         std::to_string(seq) + " is past the largest number, " +
                         std::to_string(wire::kMaxSeq) + ")");
  }
  if (seq <= reserved_) return Status::ok();
  return write_reservation(std::min(seq + kReserveBlock, wire::kMaxSeq));
}

Status Journal::append(uint64_t seq, std::string_view topic, std::string_view header,
                       std::string_view payload) {
  if (seq <= last_seq_) {
    return Status::error("journal: sequence number " + std::to_string(seq) +
                         " is not after the last one, " + std::to_string(last_seq_));
  }
  if (Status s = reserve(seq); !s) return s;  // nothing lost: `seq` is not used
  last_seq_ = seq;
  if (fd_ < 0 || new_segment_ || segment_bytes_ >= options_.segment_size) {
    if (Status s = open_segment(seq); !s) return s;
    retention_due_ = true;  // applied by the owner once the acks of what rolled are sent
  }
  const size_t body = 16 + topic.size() + header.size() + payload.size();
  const size_t start = buffer_.size();
  if (segment_bytes_ >= next_index_at_) {
    put_entry(index_buffer_, seq, segment_bytes_);
    next_index_at_ = segment_bytes_ + kIndexEvery;
  }
  put32(buffer_, kMagic);
  put32(buffer_, static_cast<uint32_t>(body));
  put32(buffer_, 0);  // the checksum, once the body is in place
  put64(buffer_, seq);
  put32(buffer_, static_cast<uint32_t>(topic.size()));
  buffer_.append(topic);
  put32(buffer_, static_cast<uint32_t>(header.size()));
  buffer_.append(header);
  buffer_.append(payload);
  const uint32_t crc = crc32c(std::string_view(buffer_.data() + start + kFrame, body));
  for (int i = 0; i < 4; ++i) buffer_[start + 8 + i] = static_cast<char>(crc >> (8 * i));
  segment_bytes_ += kFrame + body;
  buffered_seq_ = seq;
  if (options_.durability == Durability::kEveryEvent) return flush(true);
  if (buffer_.size() >= options_.buffer_size) return write_out();
  return Status::ok();
}

// After a failed write or sync: the segment is cut back to `kept_bytes` (the end of the
// last record the journal can vouch for, numbered `kept_seq` or lower), what is gathered
// is dropped, and every number appended after `kept_seq` is a loss. When the cut fails,
// the next append starts a new segment, so no record ever follows half a one.
Status Journal::lose(const std::string& why, uint64_t kept_seq, uint64_t kept_bytes) {
  std::string uncut;
  if (fd_ >= 0) {
    if (int err = env_->truncate(fd_, kept_bytes); err != 0) {
      new_segment_ = true;
      // What cannot be cut may be read back later: told, so that a publisher told `failed`
      // knows its event may show up after all (delivery stays at least once).
      uncut = "; and the segment could not be cut back (" + errno_text(err) +
              "): some of these events may still be read from it";
    }
    // Index entries may point past the cut: readers then scan instead.
    if (kept_bytes < written_bytes_ && index_fd_ >= 0) (void)env_->truncate(index_fd_, 0);
  }
  buffer_.clear();
  index_buffer_.clear();
  segment_bytes_ = written_bytes_ = kept_bytes;
  durable_bytes_ = std::min(durable_bytes_, kept_bytes);
  next_index_at_ = kept_bytes;
  written_seq_ = buffered_seq_ = std::min(written_seq_, kept_seq);
  durable_seq_ = std::min(durable_seq_, kept_seq);
  const uint64_t first = std::max(kept_seq, lost_through_) + 1;
  last_loss_ = first <= last_seq_ ? JournalLoss{first, last_seq_} : JournalLoss{};
  lost_through_ = std::max(lost_through_, last_seq_);
  return Status::error(why + uncut);
}

Status Journal::write_out() {
  size_t done = 0;
  while (done < buffer_.size()) {
    size_t n = 0;
    int err = env_->write(fd_, buffer_.data() + done, buffer_.size() - done, n);
    if (err == 0 && n == 0) err = EIO;  // no progress and no reason: do not spin
    if (err != 0) {
      return lose(segment_.string() + ": cannot be written: " + errno_text(err), written_seq_,
                  written_bytes_);
    }
    done += n;
  }
  buffer_.clear();
  written_bytes_ = segment_bytes_;
  written_seq_ = buffered_seq_;
  if (options_.durability == Durability::kNone) {
    durable_seq_ = written_seq_;
    durable_bytes_ = written_bytes_;
    write_durable_mark();
  }
  // The index after the records it points to. Losing it costs readers speed, not events.
  if (!index_buffer_.empty() && index_fd_ >= 0) {
    size_t n = 0;
    const int err = env_->write(index_fd_, index_buffer_.data(), index_buffer_.size(), n);
    if (err != 0 || n != index_buffer_.size()) {
      (void)env_->truncate(index_fd_, 0);  // never half an entry: readers then scan instead
    }
  }
  index_buffer_.clear();
  return Status::ok();
}

Status Journal::flush(bool sync) {
  if (fd_ < 0) return Status::ok();
  if (!buffer_.empty()) {
    if (Status s = write_out(); !s) return s;
  }
  if (sync && options_.durability != Durability::kNone && durable_seq_ < written_seq_) {
    int err = env_->sync(fd_);
    // A segment's records are durable once its name is: the first sync syncs the directory.
    if (err == 0 && !segment_name_durable_) err = env_->sync_dir(options_.dir);
    if (err == 0) segment_name_durable_ = true;
    if (err != 0) {
      // What the failed sync covered is in doubt (the kernel may have dropped it): cut.
      return lose(segment_.string() + ": cannot be synced: " + errno_text(err), durable_seq_,
                  durable_bytes_);
    }
    durable_seq_ = written_seq_;
    durable_bytes_ = written_bytes_;
    write_durable_mark();
  }
  return Status::ok();
}

uint64_t Journal::enforce_retention() {
  retention_due_ = false;
  auto segments = journal_segments(options_.dir);
  uint64_t total = 0;
  std::vector<std::pair<uint64_t, fs::file_time_type>> sizes;
  for (const auto& [first, path] : segments) {
    std::error_code ec;
    const uint64_t size = fs::file_size(path, ec);
    total += ec ? 0 : size;
    sizes.emplace_back(ec ? 0 : size, fs::last_write_time(path, ec));
  }
  const auto now = fs::file_time_type::clock::now();
  size_t i = 0;
  // Never the newest, which is written, nor the one before it, whose last events may be
  // waiting for their acknowledgement: an acknowledged event outlives its ack.
  for (; i + 2 < segments.size(); ++i) {
    const bool too_big = total > options_.max_bytes;
    const bool too_old = now - sizes[i].second > options_.max_age;
    if (!too_big && !too_old) break;
    (void)env_->unlink(segments[i].second);
    (void)env_->unlink(index_of(segments[i].second));
    total -= sizes[i].first;
  }
  return i < segments.size() ? segments[i].first : last_seq_ + 1;
}

JournalReader::JournalReader(fs::path dir, uint64_t from_seq,
                             std::function<void(const std::string&)> on_corrupt)
    : dir_(std::move(dir)),
      from_seq_(from_seq),
      on_corrupt_(std::move(on_corrupt)),
      expect_(from_seq) {
  segments_ = journal_segments(dir_);
  if (!segments_.empty()) first_retained_ = segments_.front().first;
  // Start in the last segment that begins at or before from_seq.
  while (next_segment_ + 1 < segments_.size() && segments_[next_segment_ + 1].first <= from_seq_) {
    ++next_segment_;
  }
}

JournalReader::~JournalReader() = default;

bool JournalReader::open_next_segment() {
  if (next_segment_ >= segments_.size()) {
    // Segments made since: look again (the writer may have rolled over).
    const auto now = journal_segments(dir_);
    for (const auto& s : now) {
      if (segments_.empty() || s.first > segments_.back().first) segments_.push_back(s);
    }
    if (next_segment_ >= segments_.size()) return false;
  }
  fd_.reset();
  if (!file_.empty() && last_read_ > 0) {
    note("after " + file_.filename().string() + ", which ends at " + std::to_string(last_read_) +
         ", " + segments_[next_segment_].second.filename().string() + " begins");
  }
  file_ = segments_[next_segment_++].second;
  const uint64_t segment_first = segments_[next_segment_ - 1].first;
  fd_.reset(::open(file_.c_str(), O_RDONLY | O_CLOEXEC));
  buffer_.clear();
  pos_ = 0;
  file_offset_ = 0;
  if (!fd_) return open_next_segment();
  index_.clear();
  index_loaded_ = false;
  if (from_seq_ > segment_first) {
    seek(from_seq_);
    index_loaded_ = true;
  }
  return true;
}

// The entries of the open segment's index, checked in order (empty when it has none).
void JournalReader::load_index() {
  index_.clear();
  auto text = read_whole(index_of(file_));
  if (!text) return;
  for (size_t at = 0; at + 16 <= text->size(); at += 16) {
    const uint64_t seq = get64(text->data() + at), offset = get64(text->data() + at + 8);
    if (!index_.empty() && (seq <= index_.back().first || offset <= index_.back().second)) break;
    index_.emplace_back(seq, offset);
  }
}

// True when a record with `seq` starts at `offset` of the open segment.
bool JournalReader::record_at(uint64_t offset, uint64_t seq) {
  char frame[kFrame];
  if (::pread(fd_.get(), frame, kFrame, static_cast<off_t>(offset)) !=
          static_cast<ssize_t>(kFrame) ||
      get32(frame) != kMagic || get32(frame + 4) > kMaxBody) {
    return false;
  }
  std::string record(kFrame + get32(frame + 4), '\0');
  if (::pread(fd_.get(), record.data(), record.size(), static_cast<off_t>(offset)) !=
      static_cast<ssize_t>(record.size())) {
    return false;
  }
  JournalRecord r;
  std::string why;
  return check_record(record.data(), record.size(), why, &r) > 0 && r.seq == seq;
}

// Places the reader at the last indexed record before `seq` in the open segment (checked
// against the record there), so a replay from the middle of a large segment reads at most
// an index step of it, not all that comes before.
void JournalReader::seek(uint64_t seq) {
  load_index();
  auto it = std::lower_bound(index_.begin(), index_.end(), std::make_pair(seq, uint64_t{0}));
  while (it != index_.begin()) {
    --it;
    if (it->second > 0 && record_at(it->second, it->first)) {
      if (::lseek(fd_.get(), static_cast<off_t>(it->second), SEEK_SET) ==
          static_cast<off_t>(it->second)) {
        file_offset_ = it->second;
      }
      return;
    }
  }
}

bool JournalReader::advance() {
  if (next_segment_ >= segments_.size()) {
    for (const auto& s : journal_segments(dir_)) {
      if (s.first > segments_.back().first) segments_.push_back(s);
    }
  }
  // A newer segment means this one is complete: go on with it.
  return next_segment_ < segments_.size() && open_next_segment();
}

bool JournalReader::fill(size_t at_least) {
  if (pos_ > 0) {  // keep memory bounded: drop what was read
    buffer_.erase(0, pos_);
    file_offset_ += pos_;
    pos_ = 0;
  }
  while (buffer_.size() < at_least) {
    const size_t have = buffer_.size();
    buffer_.resize(have + kReadChunk);
    const ssize_t n = ::read(fd_.get(), buffer_.data() + have, kReadChunk);
    buffer_.resize(have + static_cast<size_t>(std::max<ssize_t>(n, 0)));
    if (n <= 0) return false;
  }
  return true;
}

void JournalReader::note(const std::string& what) {
  if (trouble_.size() > 1024) return;  // enough to say why
  if (!trouble_.empty()) trouble_ += "; ";
  trouble_ += what;
}

namespace {

// True for the Hub's Hub/recovered event: the first of a hubd started after numbers went
// missing, which says which of them were only reserved.
bool is_recovered_event(const JournalRecord& r) {
  if (r.topic != wire::kRecoveredTopic) return false;
  const auto header = wire::decode_event_header(r.header);
  return header && header->source == kHubIdentity;
}

}  // namespace

// Records the numbers missing between the last record returned (or from_seq) and `r`.
void JournalReader::note_gap_before(const JournalRecord& r) {
  if (r.seq > expect_) {
    uint64_t first = expect_;
    const uint64_t last = r.seq - 1;
    std::string why = trouble_;
    if (expect_ < first_retained_) {
      why = "no longer in the journal (older than its oldest segment)";
    } else if (is_recovered_event(r)) {
      // Numbers only reserved by a hubd that stopped are not missing events (they were
      // never acknowledged); what lies below them was written once, and is lost.
      if (why.empty()) why = "lost before hubd restarted (see Hub/recovered)";
      if (const auto reserved = wire::recovered_skipped(r.payload);
          reserved && reserved->second >= first && reserved->first <= last) {
        if (reserved->first > first) gaps_.push_back({first, reserved->first - 1, why});
        first = reserved->second + 1;
      }
    } else if (why.empty()) {
      why = "never written to the journal (a failed write, or a crash)";
    }
    if (first <= last) gaps_.push_back({first, last, why});
  }
  expect_ = std::max(expect_, r.seq + 1);
}

bool JournalReader::segment_complete() {
  if (next_segment_ >= segments_.size()) {
    for (const auto& s : journal_segments(dir_)) {
      if (segments_.empty() || s.first > segments_.back().first) segments_.push_back(s);
    }
  }
  return next_segment_ < segments_.size();
}

namespace {

constexpr uint64_t kMaxResyncBytes = 16 << 20;  // examined after one damaged record

// The record at `offset` of `fd` when it is intact, ends by `end`, and is numbered after
// `after` and (`before` != 0) before `before`: its seq and size. Counts what it reads
// against `budget`.
std::optional<std::pair<uint64_t, uint64_t>> intact_record(int fd, uint64_t offset, uint64_t end,
                                                           uint64_t after, uint64_t before,
                                                           uint64_t& budget) {
  char head[kFrame + 8];
  if (offset + sizeof head > end ||
      ::pread(fd, head, sizeof head, static_cast<off_t>(offset)) != ssize_t{sizeof head}) {
    return std::nullopt;
  }
  const uint32_t len = get32(head + 4);
  const uint64_t seq = get64(head + kFrame);
  if (get32(head) != kMagic || len > kMaxBody || offset + kFrame + len > end || seq <= after ||
      (before != 0 && seq >= before)) {
    return std::nullopt;  // cheap checks first: most markers in payloads end here
  }
  if (budget < kFrame + len) {
    budget = 0;
    return std::nullopt;
  }
  budget -= kFrame + len;
  std::string record(kFrame + len, '\0');
  if (::pread(fd, record.data(), record.size(), static_cast<off_t>(offset)) !=
      static_cast<ssize_t>(record.size())) {
    return std::nullopt;
  }
  std::string why;
  JournalRecord r;
  if (check_record(record.data(), record.size(), why, &r) == 0 || r.seq != seq) return std::nullopt;
  return std::make_pair(seq, uint64_t{kFrame + len});
}

// True when the bytes from `offset` to `end` are the start of a record still being
// written (a plausible frame that goes past the end, or less than a frame).
bool unfinished_tail(int fd, uint64_t offset, uint64_t end) {
  if (end - offset < kFrame) return true;
  char frame[kFrame];
  if (::pread(fd, frame, kFrame, static_cast<off_t>(offset)) != ssize_t{kFrame}) return false;
  return get32(frame) == kMagic && get32(frame + 4) <= kMaxBody &&
         offset + kFrame + get32(frame + 4) > end;
}

}  // namespace

// True when intact records, numbered upwards from after the last one read, lead from
// `from` exactly to `end` (where the record numbered `end_seq` starts; 0: the end of what
// is written, where a record still being written may be found).
bool JournalReader::intact_chain(uint64_t from, uint64_t end, uint64_t end_seq, bool end_is_eof,
                                 uint64_t& budget) {
  uint64_t at = from;
  uint64_t last = last_read_;
  while (at < end) {
    const auto r = intact_record(fd_.get(), at, end, last, end_seq, budget);
    if (!r) return end_is_eof && at > from && unfinished_tail(fd_.get(), at, end);
    last = r->first;
    at += r->second;
  }
  return at == end;
}

// Where reading goes on after a damaged record at `at`: see the class comment.
uint64_t JournalReader::resume_after_damage(uint64_t at) {
  if (!index_loaded_) {
    load_index();
    index_loaded_ = true;
  }
  struct stat st {};
  const uint64_t size = ::fstat(fd_.get(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : at;
  uint64_t budget = kMaxResyncBytes;
  auto entry = std::upper_bound(index_.begin(), index_.end(), at,
                                [](uint64_t offset, const auto& e) { return offset < e.second; });
  uint64_t from = at;
  for (;; ++entry) {
    const bool to_eof = entry == index_.end();
    const uint64_t end = to_eof ? size : std::min(entry->second, size);
    const uint64_t end_seq = to_eof ? 0 : entry->first;
    // Candidates: every record marker after `from`, in order, read in chunks.
    constexpr size_t kChunk = 64 * 1024;
    std::string chunk;
    for (uint64_t base = from + 1; base < end && budget > 0; base += kChunk) {
      chunk.resize(static_cast<size_t>(std::min<uint64_t>(kChunk + 3, end - base)));
      const ssize_t n = ::pread(fd_.get(), chunk.data(), chunk.size(), static_cast<off_t>(base));
      if (n <= 0) break;
      chunk.resize(static_cast<size_t>(n));
      const std::string marker("HUBJ", 4);
      for (size_t i = chunk.find(marker); i != std::string::npos && i < kChunk;
           i = chunk.find(marker, i + 1)) {
        if (intact_chain(base + i, end, end_seq, to_eof, budget)) return base + i;
        if (budget == 0) break;
      }
    }
    if (to_eof) return size;  // nothing intact after it: on at the end
    if (record_at(entry->second, entry->first)) return entry->second;
    from = entry->second;  // the indexed record is damaged too: on to the next one
  }
}

void JournalReader::damaged(const std::string& why, uint64_t resume) {
  const uint64_t at = file_offset_ + pos_;
  const std::string where = file_.filename().string() + " at byte " + std::to_string(at);
  if (on_corrupt_) {
    on_corrupt_(file_.string() + " at byte " + std::to_string(at) + ": " + why +
                "; skipped to the next intact record");
  }
  note("a corrupt record in " + where + ": " + why);
  if (::lseek(fd_.get(), static_cast<off_t>(resume), SEEK_SET) == static_cast<off_t>(resume)) {
    buffer_.clear();
    pos_ = 0;
    file_offset_ = resume;
  } else {
    pos_ = buffer_.size();  // cannot seek: on with what follows in the file
  }
}

const JournalRecord* JournalReader::next() {
  gaps_.clear();
  for (;;) {
    if (!fd_ && !open_next_segment()) return nullptr;
    if (buffer_.size() - pos_ < kFrame && !fill(kFrame)) {
      // The end of this segment, or of what is written so far in the newest one.
      const size_t left = buffer_.size() - pos_;
      const std::string cut = file_.filename().string() + " is cut short at byte " +
                              std::to_string(file_offset_ + pos_);
      if (advance()) {
        if (left > 0) note(cut);
        continue;
      }
      return nullptr;
    }
    const char* p = buffer_.data() + pos_;
    const uint32_t len = get32(p + 4);
    if (get32(p) == kMagic && len <= kMaxBody && buffer_.size() - pos_ < kFrame + len) {
      if (!fill(kFrame + len)) {
        // In the newest segment, a record still being written (whatever its payload
        // holds: what looks like records after its start may be its own bytes). In a
        // complete segment, a damaged length or a cut file.
        if (!segment_complete()) return nullptr;
        damaged("a record cut short (its length is damaged, or the file was cut)",
                resume_after_damage(file_offset_ + pos_));
        continue;
      }
    }
    std::string why;
    const size_t size = check_record(buffer_.data() + pos_, buffer_.size() - pos_, why, &record_);
    if (size == 0) {
      damaged(why, resume_after_damage(file_offset_ + pos_));
      continue;
    }
    pos_ += size;
    last_read_ = record_.seq;
    if (record_.seq < from_seq_) {
      trouble_.clear();
      continue;
    }
    note_gap_before(record_);
    trouble_.clear();
    return &record_;
  }
}

}  // namespace hub
