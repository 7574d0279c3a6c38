#include "support/faulty_journal_env.h"

#include <algorithm>

namespace hub::test {

void FaultyJournalEnv::fail(Op op, int err, const std::string& file_part) {
  std::lock_guard lock(mu_);
  faults_[op] = {err, file_part};
}

void FaultyJournalEnv::fill_up_after(uint64_t bytes, int err, const std::string& file_part) {
  std::lock_guard lock(mu_);
  filling_ = true;
  room_ = bytes;
  full_ = {err, file_part};
}

void FaultyJournalEnv::clear() {
  std::lock_guard lock(mu_);
  faults_.clear();
  filling_ = false;
}

uint64_t FaultyJournalEnv::failed() const {
  std::lock_guard lock(mu_);
  return failed_;
}

int FaultyJournalEnv::armed(Op op, const std::string& file) {
  auto it = faults_.find(op);
  if (it == faults_.end() || file.find(it->second.file_part) == std::string::npos) return 0;
  ++failed_;
  return it->second.err;
}

std::string FaultyJournalEnv::name_of(int fd) {
  auto it = files_.find(fd);
  return it == files_.end() ? std::string() : it->second;
}

int FaultyJournalEnv::open(const std::filesystem::path& file, int flags, mode_t mode, int& fd) {
  std::lock_guard lock(mu_);
  if (int err = armed(Op::kOpen, file.string())) {
    fd = -1;
    return err;
  }
  const int err = posix().open(file, flags, mode, fd);
  if (err == 0) files_[fd] = file.string();
  return err;
}

int FaultyJournalEnv::write(int fd, const char* data, size_t size, size_t& written) {
  std::lock_guard lock(mu_);
  const std::string file = name_of(fd);
  written = 0;
  if (int err = armed(Op::kWrite, file)) return err;
  if (filling_ && file.find(full_.file_part) != std::string::npos) {
    if (room_ == 0) {
      ++failed_;
      return full_.err;
    }
    size = static_cast<size_t>(std::min<uint64_t>(size, room_));
    const int err = posix().write(fd, data, size, written);
    room_ -= written;
    return err;
  }
  return posix().write(fd, data, size, written);
}

int FaultyJournalEnv::pwrite(int fd, const char* data, size_t size, uint64_t offset) {
  std::lock_guard lock(mu_);
  if (int err = armed(Op::kPwrite, name_of(fd))) return err;
  return posix().pwrite(fd, data, size, offset);
}

int FaultyJournalEnv::sync(int fd) {
  std::lock_guard lock(mu_);
  if (int err = armed(Op::kSync, name_of(fd))) return err;
  return posix().sync(fd);
}

int FaultyJournalEnv::truncate(int fd, uint64_t size) {
  std::lock_guard lock(mu_);
  if (int err = armed(Op::kTruncate, name_of(fd))) return err;
  return posix().truncate(fd, size);
}

int FaultyJournalEnv::sync_dir(const std::filesystem::path& dir) {
  std::lock_guard lock(mu_);
  if (int err = armed(Op::kSyncDir, dir.string())) return err;
  return posix().sync_dir(dir);
}

int FaultyJournalEnv::unlink(const std::filesystem::path& file) {
  std::lock_guard lock(mu_);
  if (int err = armed(Op::kUnlink, file.string())) return err;
  return posix().unlink(file);
}

int FaultyJournalEnv::close(int fd) {
  std::lock_guard lock(mu_);
  files_.erase(fd);
  return posix().close(fd);
}

}  // namespace hub::test
