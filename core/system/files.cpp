#include "core/system/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "bus/unique_fd.h"

namespace hub {
namespace fs = std::filesystem;

Status make_private_dir(const fs::path& dir, mode_t mode, const std::optional<Account>& owner) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::error(dir.string() + ": cannot create: " + ec.message());
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0)
    return Status::error(dir.string() + ": " + std::strerror(errno));
  if (st.st_uid != ::geteuid() && !(owner && st.st_uid == owner->uid)) {
    return Status::error(dir.string() + ": owned by uid " + std::to_string(st.st_uid) +
                         ", not by this user (uid " + std::to_string(::geteuid()) + ")");
  }
  if (owner) {
    if (Status s = give_to(dir, *owner); !s) return s;
  }
  if (::chmod(dir.c_str(), mode) != 0)
    return Status::error(dir.string() + ": " + std::strerror(errno));
  return Status::ok();
}

Status give_to(const fs::path& path, const Account& owner) {
  if (::lchown(path.c_str(), owner.uid, owner.gid) != 0) {
    return Status::error(path.string() + ": cannot be given to uid " + std::to_string(owner.uid) +
                         ": " + std::strerror(errno));
  }
  return Status::ok();
}

std::vector<fs::path> visible_entries(const fs::path& dir, std::error_code& error) {
  std::vector<fs::path> entries;
  error.clear();
  for (fs::directory_iterator it(dir, error), end; !error && it != end; it.increment(error)) {
    const std::string name = it->path().filename().string();
    if (!name.empty() && name[0] != '.') entries.push_back(it->path());
  }
  if (error == std::errc::no_such_file_or_directory) error.clear();
  std::sort(entries.begin(), entries.end());
  return entries;
}

Status write_file(const fs::path& file, const std::string& text, mode_t mode) {
  // Never through a link, never blocked by a FIFO, never into anything but a regular file.
  const unique_fd fd(
      ::open(file.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, mode));
  if (!fd) return Status::error(file.string() + ": cannot be written: " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink > 1 ||
      ::ftruncate(fd.get(), 0) != 0) {
    return Status::error(file.string() + ": not a regular file of its own; not written");
  }
  const bool ok = ::write(fd.get(), text.data(), text.size()) == static_cast<ssize_t>(text.size());
  if (!ok) return Status::error(file.string() + ": cannot be written");
  return Status::ok();
}

}  // namespace hub
