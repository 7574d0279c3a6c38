// A JournalEnv that makes chosen file operations fail (leveldb's FaultInjectionTestEnv
// idea), so the journal's answer to ENOSPC, EIO and EROFS is tested without breaking a
// real disk. Everything else goes to the real file system. Safe for concurrent use: a
// test arms and clears faults while a broker thread writes.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>

#include "bus/journal_env.h"

namespace hub::test {

class FaultyJournalEnv : public JournalEnv {
 public:
  enum class Op { kOpen, kWrite, kPwrite, kSync, kTruncate, kUnlink, kSyncDir };

  // From now on, `op` on files whose name contains `file_part` ("" for any) fails with
  // `err`, until clear().
  void fail(Op op, int err, const std::string& file_part = "");
  // Writes to files whose name contains `file_part` take `bytes` more in all, then fail
  // with `err` (a disk filling up: the write that crosses the line is cut short).
  void fill_up_after(uint64_t bytes, int err, const std::string& file_part = "");
  void clear();             // every operation works again
  uint64_t failed() const;  // calls failed so far

  int open(const std::filesystem::path& file, int flags, mode_t mode, int& fd) override;
  int write(int fd, const char* data, size_t size, size_t& written) override;
  int pwrite(int fd, const char* data, size_t size, uint64_t offset) override;
  int sync(int fd) override;
  int truncate(int fd, uint64_t size) override;
  int sync_dir(const std::filesystem::path& dir) override;
  int unlink(const std::filesystem::path& file) override;
  int close(int fd) override;

 private:
  struct Fault {
    int err = 0;
    std::string file_part;
  };
  // The errno `op` on `file` fails with now, or 0. REQUIRES: mu_ held.
  int armed(Op op, const std::string& file);
  std::string name_of(int fd);  // REQUIRES: mu_ held

  mutable std::mutex mu_;
  std::map<Op, Fault> faults_;
  std::map<int, std::string> files_;  // open descriptors
  bool filling_ = false;
  uint64_t room_ = 0;
  Fault full_;
  uint64_t failed_ = 0;
};

}  // namespace hub::test
