// Where a durable consumer (an SDK durable subscription, the script dispatcher) keeps the
// sequence number up to which it has handled every event, so that after a restart it
// resumes from the journal right after it (SubscriberOptions::resume_from). Saved by
// rename, so a crash leaves the old mark or the new one, never half of one: delivery is at
// least once (events handled after the last save come again).
//
// Thread-safe. Saves are taken one at a time, each writing the newest mark, and the file
// is written (and synced) outside the lock that advance() and the readers take, so a
// consumer moving its mark never waits for the disk.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <mutex>

namespace hub {

class ConsumerMark {
 public:
  // Reads the mark in `file` (0 when there is none yet). With `save_every_events` > 0, a
  // save is also due once that many handled events are not saved (advance()'s `events`).
  explicit ConsumerMark(std::filesystem::path file, uint64_t save_every_events = 0);
  ~ConsumerMark() { save(); }
  ConsumerMark(const ConsumerMark&) = delete;
  ConsumerMark& operator=(const ConsumerMark&) = delete;

  bool found() const { return found_; }  // the file held a mark when constructed
  uint64_t acked() const;
  uint64_t saved() const;  // the mark on disk (0 when none is)
  bool unsaved() const;
  // Every event up to `seq` is handled (it may also move the mark back: a new starting
  // point), `events` of them newly; saved when a save is due (save_due()). False when a
  // save was due and the file could not be written.
  bool ack(uint64_t seq, uint64_t events = 1);
  // The same without saving: true when a save is now due, for the caller to save() once
  // it has released its own locks.
  bool advance(uint64_t seq, uint64_t events = 1);
  // The mark moved and the last save is `save_every` old, or save_every_events handled
  // events are not saved.
  bool save_due() const;
  // Saves now, if the mark moved since the last save. False when the file cannot be written.
  bool save();

  static constexpr std::chrono::milliseconds save_every{100};

 private:
  bool save_due_locked() const;

  const std::filesystem::path file_;
  const uint64_t save_every_events_;
  bool found_ = false;
  mutable std::mutex mu_;  // the fields below
  bool on_disk_ = false;   // the file holds a mark (the one in saved_)
  uint64_t acked_ = 0, saved_ = 0;
  uint64_t unsaved_events_ = 0;  // handled events the saved mark does not cover
  std::chrono::steady_clock::time_point last_save_ = std::chrono::steady_clock::now();
  std::mutex save_mu_;  // one save at a time, so saves land in the order of their marks
};

}  // namespace hub
