// One event as a client receives it from the bus (live, in a snapshot, or replayed from
// the journal): the topic and payload frames as they came, the broker's stamp decoded.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <zmq.hpp>

#include "bus/wire.h"

namespace hub {

// The payload is never copied: it stays in the frame it arrived in. Move-only.
struct Event {
  zmq::message_t topic_frame;
  zmq::message_t payload_frame;
  uint64_t seq = 0;
  uint64_t time_ns = 0;  // nanoseconds since the Unix epoch (UTC), the broker's clock
  uint8_t flags = 0;
  uint64_t module_prev = 0;  // the previous event of this topic's module (wire.h)
  std::string source;        // the publisher's authenticated identity
  std::string content_type;  // as published

  // Views into the frames: valid while this Event is neither destroyed nor moved.
  std::string_view topic() const { return topic_frame.to_string_view(); }
  std::string_view payload() const { return payload_frame.to_string_view(); }
  bool retained() const { return (flags & wire::kFlagRetain) != 0; }

  // Builds an Event from [topic][event header][payload]; nullopt when the header is not
  // a well-formed event header.
  static std::optional<Event> decode(zmq::message_t topic, std::string_view header,
                                     zmq::message_t payload);
  static std::optional<Event> decode(zmq::message_t topic, const zmq::message_t& header,
                                     zmq::message_t payload) {
    return decode(std::move(topic), header.to_string_view(), std::move(payload));
  }
};

}  // namespace hub
