#include "bus/journal_env.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace hub {
namespace {

class PosixJournalEnv final : public JournalEnv {
 public:
  int open(const std::filesystem::path& file, int flags, mode_t mode, int& fd) override {
    fd = ::open(file.c_str(), flags, mode);
    return fd < 0 ? errno : 0;
  }
  int write(int fd, const char* data, size_t size, size_t& written) override {
    written = 0;
    for (;;) {
      const ssize_t n = ::write(fd, data, size);
      if (n >= 0) {
        written = static_cast<size_t>(n);
        return 0;
      }
      if (errno != EINTR) return errno;
    }
  }
  int pwrite(int fd, const char* data, size_t size, uint64_t offset) override {
    while (size > 0) {
      const ssize_t n = ::pwrite(fd, data, size, static_cast<off_t>(offset));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return errno;
      if (n == 0) return EIO;
      data += n;
      size -= static_cast<size_t>(n);
      offset += static_cast<uint64_t>(n);
    }
    return 0;
  }
  int sync(int fd) override { return ::fdatasync(fd) == 0 ? 0 : errno; }
  int sync_dir(const std::filesystem::path& dir) override {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return errno;
    const int err = ::fsync(fd) == 0 ? 0 : errno;
    ::close(fd);
    return err;
  }
  int truncate(int fd, uint64_t size) override {
    return ::ftruncate(fd, static_cast<off_t>(size)) == 0 ? 0 : errno;
  }
  int unlink(const std::filesystem::path& file) override {
    return ::unlink(file.c_str()) == 0 ? 0 : errno;
  }
  int close(int fd) override { return ::close(fd) == 0 ? 0 : errno; }
};

}  // namespace

JournalEnv& JournalEnv::posix() {
  static PosixJournalEnv env;
  return env;
}

}  // namespace hub
