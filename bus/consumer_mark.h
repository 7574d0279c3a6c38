// Where a durable consumer (an SDK durable subscription, the script dispatcher) keeps the
// sequence number up to which it has handled every event, so that after a restart it
// resumes from the journal right after it (SubscriberOptions::resume_from). Saved by
// rename, so a crash leaves the old mark or the new one, never half of one: delivery is at
// least once (events handled after the last save come again). One thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>

namespace hub {

class ConsumerMark {
 public:
  // Reads the mark in `file` (0 when there is none yet).
  explicit ConsumerMark(std::filesystem::path file);
  ~ConsumerMark() { save(); }
  ConsumerMark(const ConsumerMark&) = delete;
  ConsumerMark& operator=(const ConsumerMark&) = delete;

  bool found() const { return found_; }  // the file held a mark when constructed
  uint64_t acked() const { return acked_; }
  bool unsaved() const { return acked_ != saved_ || !on_disk_; }
  // Every event up to `seq` is handled; saved when the last save is `save_every` old.
  // False when a save was due and the file could not be written.
  bool ack(uint64_t seq);
  // Saves now, if the mark moved since the last save. False when the file cannot be written.
  bool save();

  static constexpr std::chrono::milliseconds save_every{100};

 private:
  std::filesystem::path file_;
  bool found_ = false;
  bool on_disk_ = false;  // the file holds a mark (the one in saved_)
  uint64_t acked_ = 0, saved_ = 0;
  std::chrono::steady_clock::time_point last_save_ = std::chrono::steady_clock::now();
};

}  // namespace hub
