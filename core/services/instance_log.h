// The log of one service instance: everything it writes to stdout and stderr, appended to
// var/log/hub/INSTANCE.log and rotated by size (INSTANCE.log.1 is the newest rotated
// file, at most `keep` are kept). Rotation happens at a line end, so no line is split
// across files, unless one line alone grows past the size limit. One thread only.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "bus/status.h"

namespace hub {

class InstanceLog {
 public:
  InstanceLog(std::filesystem::path file, uint64_t max_size, int64_t keep)
      : file_(std::move(file)), max_size_(max_size), keep_(keep) {}
  ~InstanceLog();
  InstanceLog(const InstanceLog&) = delete;
  InstanceLog& operator=(const InstanceLog&) = delete;

  // Appends `data` (opening the file on first use). A failure to write is returned (what
  // could be written was) and the next call tries again; a failure to rotate is returned
  // too, but the data is still written, to the file that could not be rotated.
  Status write(std::string_view data);
  const std::filesystem::path& file() const { return file_; }

 private:
  Status open();
  Status append(std::string_view data);
  // Starts a new file; when the old one cannot be moved aside, keeps appending to it and
  // tries again after another max_size (never in a loop).
  Status rotate();

  std::filesystem::path file_;
  uint64_t max_size_;
  int64_t keep_;
  int fd_ = -1;
  uint64_t size_ = 0;
  uint64_t limit_ = 0;  // the size at which the file rotates: max_size_, or more after a failure
  bool line_ended_ = true;  // the last byte written was a newline
};

}  // namespace hub
