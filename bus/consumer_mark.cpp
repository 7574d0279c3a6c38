#include "bus/consumer_mark.h"

#include <fcntl.h>
#include <unistd.h>

#include <sstream>
#include <string>

#include <spdlog/spdlog.h>

#include "bus/small_file.h"

namespace hub {

ConsumerMark::ConsumerMark(std::filesystem::path file) : file_(std::move(file)) {
  // Never blocks: a FIFO or a directory in its place is reported and counts as no mark.
  std::error_code ec;
  if (std::filesystem::exists(std::filesystem::symlink_status(file_, ec))) {
    auto text = read_small_file(file_, 64);
    if (!text) spdlog::error("consumer mark {} (ignored)", text.error());
    std::istringstream in(text ? *text : std::string());
    found_ = static_cast<bool>(in >> saved_);
  }
  if (!found_) saved_ = 0;
  on_disk_ = found_;
  acked_ = saved_;
}

bool ConsumerMark::ack(uint64_t seq) {
  acked_ = seq;
  return std::chrono::steady_clock::now() - last_save_ < save_every || save();
}

bool ConsumerMark::save() {
  if (!unsaved()) return true;
  last_save_ = std::chrono::steady_clock::now();
  std::error_code ec;
  std::filesystem::create_directories(file_.parent_path(), ec);
  const auto temp = file_.string() + ".new";
  // Synced before the rename, so after a power cut the file holds the old mark or the new.
  const std::string text = std::to_string(acked_) + "\n";
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                       ::fdatasync(fd) == 0;
  ::close(fd);
  if (!written) return false;
  std::filesystem::rename(temp, file_, ec);
  if (ec) return false;
  saved_ = acked_;
  on_disk_ = true;
  return true;
}

}  // namespace hub
