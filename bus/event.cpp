#include "bus/event.h"

namespace hub {

std::optional<Event> Event::decode(zmq::message_t topic, std::string_view header,
                                   zmq::message_t payload) {
  const auto stamp = wire::decode_event_header(header);
  if (!stamp) return std::nullopt;
  Event event;
  event.topic_frame = std::move(topic);
  event.payload_frame = std::move(payload);
  event.seq = stamp->seq;
  event.time_ns = stamp->time_ns;
  event.flags = stamp->flags;
  event.source = std::string(stamp->source);
  event.content_type = std::string(stamp->content_type);
  event.module_prev = stamp->module_prev;
  return event;
}

}  // namespace hub
