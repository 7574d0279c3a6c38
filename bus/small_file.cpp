#include "bus/small_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "bus/unique_fd.h"

namespace hub {
namespace {

constexpr std::string_view kByteOrderMark = "\xEF\xBB\xBF";

Status refused(const std::filesystem::path& file, mode_t mode) {
  return Status::error(file.string() + ": is " + file_kind(mode) + ", expected a regular file");
}

Status too_large(const std::filesystem::path& file, uint64_t size, size_t max_bytes) {
  return Status::error(file.string() + ": is " + std::to_string(size) + " bytes, more than the " +
                       std::to_string(max_bytes) + " allowed");
}

}  // namespace

std::string file_kind(mode_t mode) {
  if (S_ISREG(mode)) return "a regular file";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISLNK(mode)) return "a symbolic link";
  return "not a regular file";
}

Result<SmallFile> read_small_file(const std::filesystem::path& file,
                                  const SmallFileOptions& options) {
  // Looked at before it is opened, so a device is never opened at all; looked at again
  // once open (fstat), so what is read is what was checked.
  struct stat st {};
  const auto look = options.follow_links ? ::stat : ::lstat;
  if (look(file.c_str(), &st) != 0) {
    const int err = errno;
    if (err == ENOENT) return Status::error(file.string() + ": missing");
    return Status::error(file.string() + ": " + std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) return refused(file, st.st_mode);
  const int flags =
      O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY | (options.follow_links ? 0 : O_NOFOLLOW);
  const unique_fd fd(::open(file.c_str(), flags));
  if (!fd) {
    const int err = errno;
    if (err == ENOENT) return Status::error(file.string() + ": missing");
    if (err == ELOOP && !options.follow_links) return refused(file, S_IFLNK);
    return Status::error(file.string() + ": " + std::strerror(err));
  }
  if (::fstat(fd.get(), &st) != 0)
    return Status::error(file.string() + ": " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return refused(file, st.st_mode);
  if (static_cast<uint64_t>(st.st_size) > options.max_bytes)
    return too_large(file, static_cast<uint64_t>(st.st_size), options.max_bytes);

  SmallFile out;
  out.owner = st.st_uid;
  out.mode = st.st_mode & 07777;
  // To the end, not to st_size: the file may have grown since, and must not pass the bound.
  const size_t limit = options.max_bytes + 1;
  out.text.resize(std::min(static_cast<size_t>(st.st_size) + 1, limit));
  size_t got = 0;
  for (;;) {
    if (got == out.text.size()) {
      if (got == limit) break;
      out.text.resize(std::min(2 * got, limit));
    }
    const ssize_t n = ::read(fd.get(), out.text.data() + got, out.text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::error(file.string() + ": " + std::strerror(errno));
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  if (got > options.max_bytes) return too_large(file, got, options.max_bytes);
  out.text.resize(got);
  if (out.text.compare(0, kByteOrderMark.size(), kByteOrderMark) == 0)
    out.text.erase(0, kByteOrderMark.size());
  return out;
}

Result<std::string> read_small_file(const std::filesystem::path& file, size_t max_bytes) {
  SmallFileOptions options;
  options.max_bytes = max_bytes;
  auto read = read_small_file(file, options);
  if (!read) return read.status();
  return std::move(read->text);
}

}  // namespace hub
