#include "core/modules/disabled_modules.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "bus/small_file.h"

namespace hub {
namespace fs = std::filesystem;

Status DisabledModules::load() {
  names_.clear();
  unreadable_.clear();
  std::error_code ec;
  if (file_.empty() || !fs::exists(file_, ec)) return Status::ok();
  auto text = read_small_file(file_, 1024 * 1024);
  if (!text) {
    unreadable_ = text.error();
    return Status::error(text.error());
  }
  size_t from = 0;
  while (from < text->size()) {
    size_t end = text->find('\n', from);
    if (end == std::string::npos) end = text->size();
    const std::string name = text->substr(from, end - from);
    if (!name.empty()) names_.insert(name);
    from = end + 1;
  }
  return Status::ok();
}

Status DisabledModules::set(const std::string& name, bool disabled) {
  if (!unreadable_.empty()) {  // saving now would drop what the file holds
    return Status::error(unreadable_ + " (the list of disabled modules; fix or remove it)");
  }
  std::set<std::string> next = names_;
  if (disabled) {
    next.insert(name);
  } else {
    next.erase(name);
  }
  if (next == names_) return Status::ok();
  if (Status s = save(next); !s) return s;
  names_ = std::move(next);
  return Status::ok();
}

Status DisabledModules::save(const std::set<std::string>& names) const {
  if (file_.empty()) return Status::ok();
  std::string text;
  for (const auto& name : names) text += name + "\n";
  std::error_code ec;
  fs::create_directories(file_.parent_path(), ec);
  const fs::path temp = file_.parent_path() / ("." + file_.filename().string() + ".new");
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) return Status::error(temp.string() + ": cannot be written: " + std::strerror(errno));
  // Synced before the rename, so the name never points at a half-written list.
  const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                       ::fdatasync(fd) == 0;
  const int err = errno;
  ::close(fd);
  std::string problem = written ? "" : std::strerror(err);
  if (written) {
    fs::rename(temp, file_, ec);
    if (ec) problem = ec.message();
  }
  if (problem.empty()) {
    // The rename is durable once the directory is: only then is the change acknowledged.
    const int dir = ::open(file_.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0 || ::fsync(dir) != 0) problem = std::strerror(errno);
    if (dir >= 0) ::close(dir);
  }
  if (problem.empty()) return Status::ok();
  fs::remove(temp, ec);
  return Status::error(file_.string() + ": cannot be written: " + problem);
}

}  // namespace hub
