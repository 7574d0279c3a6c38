#include "core/services/instance_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace hub {
namespace fs = std::filesystem;

namespace {
// A line longer than this past the size limit is cut, so one endless line cannot grow
// a file without bound.
constexpr uint64_t kLongestLine = 64 * 1024;
}  // namespace

InstanceLog::~InstanceLog() {
  if (fd_ >= 0) ::close(fd_);
}

Status InstanceLog::open() {
  fd_ = ::open(file_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd_ < 0) return Status::error(file_.string() + ": cannot be opened: " + std::strerror(errno));
  struct stat st {};
  size_ = ::fstat(fd_, &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
  if (limit_ == 0) limit_ = max_size_;
  line_ended_ = true;
  return Status::ok();
}

Status InstanceLog::append(std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd_, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      return Status::error(file_.string() + ": cannot be written: " + std::strerror(errno));
    size_ += static_cast<uint64_t>(n);
    line_ended_ = data[static_cast<size_t>(n) - 1] == '\n';
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::ok();
}

Status InstanceLog::rotate() {
  ::close(fd_);
  fd_ = -1;
  std::error_code ignored, ec;
  const std::string base = file_.string();
  if (keep_ == 0) {
    fs::remove(file_, ec);
  } else {
    fs::remove(base + "." + std::to_string(keep_), ignored);
    for (int64_t i = keep_ - 1; i >= 1; --i) {
      fs::rename(base + "." + std::to_string(i), base + "." + std::to_string(i + 1), ignored);
    }
    fs::rename(file_, base + ".1", ec);
  }
  if (Status s = open(); !s) return s;
  if (ec) {
    // The file stays as it is and grows; rotation is tried again one max_size later.
    limit_ = size_ + max_size_;
    return Status::error(file_.string() + ": cannot be rotated: " + ec.message());
  }
  limit_ = max_size_;
  return Status::ok();
}

Status InstanceLog::write(std::string_view data) {
  Status rotated = Status::ok();
  while (!data.empty()) {
    if (fd_ < 0) {
      if (Status s = open(); !s) return s;
    }
    if (size_ < limit_) {
      const size_t room = static_cast<size_t>(limit_ - size_);
      const size_t take = std::min(room, data.size());
      if (Status s = append(data.substr(0, take)); !s) return s;
      data.remove_prefix(take);
      continue;
    }
    // Past the limit: finish the current line (bounded), then start a new file.
    size_t take = 0;
    if (!line_ended_) {
      const size_t eol = data.find('\n');
      const uint64_t over = size_ - limit_;
      const size_t allowed = over >= kLongestLine ? 0 : static_cast<size_t>(kLongestLine - over);
      take = eol == std::string_view::npos ? std::min(allowed, data.size())
                                           : std::min(allowed, eol + 1);
      if (Status s = append(data.substr(0, take)); !s) return s;
      data.remove_prefix(take);
      const bool line_done = eol != std::string_view::npos && take == eol + 1;
      if (!line_done && take < allowed) continue;  // the line goes on in the next write
    }
    if (Status s = rotate(); !s) {
      if (fd_ < 0) return s;  // not even reopened: nothing more can be written
      rotated = s;            // the data still goes in, to the unrotated file
    }
  }
  return rotated;
}

}  // namespace hub
