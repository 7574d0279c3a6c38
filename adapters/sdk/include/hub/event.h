// One event as a handler of the SDK receives it (docs/PROTOCOL.md, "What the broker
// stamps"). It views the event the SDK holds: valid during the handler call only, so it
// cannot be copied; copy out (std::string) what is kept beyond the call.
#pragma once

#include <cstdint>
#include <string_view>

namespace hub::sdk {

class Event {
 public:
  Event(std::string_view topic_of, std::string_view payload_of, uint64_t seq_of,
        uint64_t time_ns_of, bool retained_of, std::string_view source_of,
        std::string_view content_type_of)
      : seq(seq_of),
        time_ns(time_ns_of),
        source(source_of),
        content_type(content_type_of),
        topic_(topic_of),
        payload_(payload_of),
        retained_(retained_of) {}
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  std::string_view topic() const { return topic_; }      // MODULE/EVENT
  std::string_view payload() const { return payload_; }  // as published
  // Delivered from the hub's retained store, not live (the last event kept of its topic).
  bool retained() const { return retained_; }

  const uint64_t seq;                   // the broker's sequence number
  const uint64_t time_ns;               // ns since the Unix epoch (UTC), the broker's clock
  const std::string_view source;        // the publisher's authenticated identity
  const std::string_view content_type;  // as published

 private:
  std::string_view topic_;
  std::string_view payload_;
  bool retained_;
};

}  // namespace hub::sdk
