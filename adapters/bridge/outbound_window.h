// The bridge's window: every message handed to the MQTT broker (or waiting to be) that the
// saved mark of the bridge's durable subscription does not cover yet, in bus order. It
// decides what to send after a reconnect (everything not acknowledged, in order), which
// bus sequence number the broker has acknowledged everything up to (the mark may advance
// there), and when there is room for more. Not thread-safe: its owner locks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <unordered_map>

namespace hub::bridge {

struct OutboundMessage {
  uint64_t seq = 0;  // the bus event it came from (one event may give several messages)
  std::string topic;
  std::string payload;
  int qos = 1;
  bool retain = false;
};

class OutboundWindow {
 public:
  explicit OutboundWindow(size_t capacity) : capacity_(capacity) {}

  static constexpr int kNoConnection = -1;
  static constexpr int kRefused = -2;

  bool has_room() const { return entries_.size() < capacity_; }
  size_t size() const { return entries_.size(); }
  size_t capacity() const { return capacity_; }

  // Queues `message`, to be sent. Its seq is never below a message's queued before.
  void add(OutboundMessage message);
  // An event that gave no message at all still needs its place, so that the acknowledged
  // prefix can pass it.
  void add_done(uint64_t seq);

  // True when nothing queued waits to be sent (a new message may then be sent at once
  // without passing an older one).
  bool nothing_pending() const { return pending_ == 0; }
  // Sends every waiting message in order through `send`, which returns the broker's message
  // id; kNoConnection when it could not send (the connection went): then it stops, and the
  // rest waits for the next connection; kRefused when the message can never be sent (too
  // large for the broker): it counts as done, and the next one goes.
  void send_pending(const std::function<int(const OutboundMessage&)>& send);

  // The broker acknowledged message id `mid` (PUBACK, or written for QoS 0). False when the
  // id is unknown (a stale one from an earlier connection).
  bool acknowledged(int mid);
  // The connection went: whatever was sent and not acknowledged is sent again on the next.
  void connection_lost();

  // Every message of every event up to this seq is acknowledged (0: none yet).
  uint64_t acked_through() const { return acked_through_; }
  // The mark is saved through `seq`: those messages leave the window.
  void saved_through(uint64_t seq);

  size_t in_flight() const { return in_flight_; }

 private:
  enum class State { kPending, kSent, kAcked };
  struct Entry {
    OutboundMessage message;
    State state = State::kPending;
    int mid = -1;
  };
  void advance_acked();
  bool send_entry(size_t index, const std::function<int(const OutboundMessage&)>& send);

  size_t capacity_;
  std::deque<Entry> entries_;
  uint64_t first_id_ = 0;                   // the id of entries_.front()
  std::unordered_map<int, uint64_t> sent_;  // mid -> entry id, on this connection
  size_t acked_prefix_ = 0;                 // entries at the front that are all acknowledged
  uint64_t acked_through_ = 0;
  size_t pending_ = 0, in_flight_ = 0;
  uint64_t first_pending_ = 0;  // no entry before this id waits to be sent
};

}  // namespace hub::bridge
