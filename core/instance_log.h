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

  // Appends `data` (opening the file on first use). A failure to write is returned, and
  // the next call tries again.
  Status write(std::string_view data);
  const std::filesystem::path& file() const { return file_; }

 private:
  Status open();
  Status append(std::string_view data);
  void rotate();

  std::filesystem::path file_;
  uint64_t max_size_;
  int64_t keep_;
  int fd_ = -1;
  uint64_t size_ = 0;
  bool line_ended_ = true;  // the last byte written was a newline
};

}  // namespace hub
