// Subscribing to the bus. A Subscriber owns one SUB socket connected to the broker's XPUB,
// filters with MQTT-style patterns, and can join with the retained events (the last
// retained event of each matching topic) followed by every later event, with no gap
// between the two. Move-only; one thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <zmq.hpp>

#include "bus/credentials.h"
#include "bus/status.h"
#include "bus/topic_filter.h"
#include "bus/wire.h"

namespace hub {

// One event as received. Owns its frames; header() views into them, so an Event must
// not be moved while a header it returned is in use.
struct Event {
  zmq::message_t topic_frame;
  zmq::message_t header_frame;
  zmq::message_t payload_frame;
  uint64_t seq = 0;

  std::string_view topic() const { return topic_frame.to_string_view(); }
  std::string_view payload() const { return payload_frame.to_string_view(); }
  // REQUIRES: the header frame was validated (every Event a Subscriber returns is).
  wire::EventHeader header() const {
    return *wire::decode_event_header(header_frame.to_string_view());
  }
};

struct SubscriberOptions {
  std::string events_endpoint;        // the broker's XPUB
  std::string replay_endpoint;        // the broker's snapshot socket (used when retained)
  std::vector<std::string> patterns;  // MQTT-style; empty means everything
  bool retained = true;               // start with the retained events of matching topics
  int receive_hwm = 10000;
  std::chrono::milliseconds connect_timeout{5000};
  // Called when sequence numbers skip (events were missed because this subscriber fell
  // more than the high-water mark behind). Only a subscriber to everything can tell.
  std::function<void(uint64_t first_missed, uint64_t last_missed)> on_gap;
};

class Subscriber {
 public:
  // Connects and subscribes. With `retained`, also waits (up to connect_timeout) for the
  // snapshot. Fails with a clear message when no hub answers at the endpoints.
  static Result<Subscriber> open(zmq::context_t& ctx, const Credential& credential,
                                 SubscriberOptions options);

  Subscriber(Subscriber&&) noexcept = default;
  Subscriber& operator=(Subscriber&&) noexcept = default;

  // The next matching event, in sequence order; nullopt when `timeout` passes first
  // (a negative timeout waits for ever), or early when a signal interrupts the wait.
  std::optional<Event> next(std::chrono::milliseconds timeout);

  // Frames that did not decode as an event (should stay 0 against a hub).
  uint64_t malformed() const { return malformed_; }

 private:
  Subscriber(zmq::socket_t socket, TopicFilter filter, SubscriberOptions options)
      : socket_(std::move(socket)), filter_(std::move(filter)), options_(std::move(options)) {}
  Status join_with_snapshot(zmq::context_t& ctx, const Credential& credential,
                            const std::string& token);
  std::optional<Event> receive(std::chrono::milliseconds timeout);

  zmq::socket_t socket_;
  TopicFilter filter_;
  SubscriberOptions options_;
  std::deque<Event> snapshot_;  // retained events not yet handed out
  uint64_t join_seq_ = 0;       // live events at or below this predate the snapshot
  bool joined_ = false;         // a live event after join_seq_ has been seen
  uint64_t last_seq_ = 0;
  uint64_t malformed_ = 0;
};

}  // namespace hub
