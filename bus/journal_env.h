// The file operations the journal's writer performs, behind a small interface (leveldb's
// Env idea), so tests can make any one of them fail with ENOSPC, EIO or EROFS instead of
// filling or breaking a real disk. JournalEnv::posix() is the real one.
//
// Every operation returns 0 or the errno value it failed with; none throws. Readers
// (JournalReader) read files directly: a fault in reading is not what this seam is for.
// Implementations must be safe for concurrent use (a test arms faults from its own thread
// while the broker's thread writes).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>

namespace hub {

class JournalEnv {
 public:
  virtual ~JournalEnv() = default;

  // open(2): `fd` is set on success.
  virtual int open(const std::filesystem::path& file, int flags, mode_t mode, int& fd) = 0;
  // One write(2) of up to `size` bytes: `written` says how many went in (it may be fewer
  // than asked; 0 on failure). EINTR is retried inside.
  virtual int write(int fd, const char* data, size_t size, size_t& written) = 0;
  // pwrite(2) of all `size` bytes at `offset` (small files: the durable mark).
  virtual int pwrite(int fd, const char* data, size_t size, uint64_t offset) = 0;
  virtual int sync(int fd) = 0;  // fdatasync(2)
  // fsync(2) of a directory, so that a file created in it survives a power cut.
  virtual int sync_dir(const std::filesystem::path& dir) = 0;
  virtual int truncate(int fd, uint64_t size) = 0;
  virtual int unlink(const std::filesystem::path& file) = 0;
  virtual int close(int fd) = 0;

  // The real thing: plain system calls. Lives for the whole program.
  static JournalEnv& posix();
};

}  // namespace hub
