#include "bus/consumer_mark.h"

#include <fcntl.h>
#include <unistd.h>

#include <sstream>
#include <string>

#include <spdlog/spdlog.h>

#include "bus/small_file.h"

namespace hub {

ConsumerMark::ConsumerMark(std::filesystem::path file, uint64_t save_every_events)
    : file_(std::move(file)), save_every_events_(save_every_events) {
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

uint64_t ConsumerMark::acked() const {
  std::lock_guard lock(mu_);
  return acked_;
}

uint64_t ConsumerMark::saved() const {
  std::lock_guard lock(mu_);
  return saved_;
}

bool ConsumerMark::unsaved() const {
  std::lock_guard lock(mu_);
  return acked_ != saved_ || !on_disk_;
}

bool ConsumerMark::ack(uint64_t seq, uint64_t events) { return !advance(seq, events) || save(); }

bool ConsumerMark::advance(uint64_t seq, uint64_t events) {
  std::lock_guard lock(mu_);
  acked_ = seq;
  unsaved_events_ += events;
  return save_due_locked();
}

bool ConsumerMark::save_due() const {
  std::lock_guard lock(mu_);
  return save_due_locked();
}

bool ConsumerMark::save_due_locked() const {
  if (acked_ == saved_ && on_disk_) return false;
  return std::chrono::steady_clock::now() - last_save_ >= save_every ||
         (save_every_events_ > 0 && unsaved_events_ >= save_every_events_);
}

bool ConsumerMark::save() {
  std::lock_guard one_at_a_time(save_mu_);
  uint64_t mark = 0, events = 0;
  {
    std::lock_guard lock(mu_);
    if (acked_ == saved_ && on_disk_) return true;
    last_save_ = std::chrono::steady_clock::now();
    mark = acked_;
    events = unsaved_events_;
  }
  std::error_code ec;
  std::filesystem::create_directories(file_.parent_path(), ec);
  const auto temp = file_.string() + ".new";
  // Synced before the rename, so after a power cut the file holds the old mark or the new.
  const std::string text = std::to_string(mark) + "\n";
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                       ::fdatasync(fd) == 0;
  ::close(fd);
  if (!written) return false;
  std::filesystem::rename(temp, file_, ec);
  if (ec) return false;
  std::lock_guard lock(mu_);
  saved_ = mark;
  on_disk_ = true;
  unsaved_events_ -= events;
  return true;
}

}  // namespace hub
