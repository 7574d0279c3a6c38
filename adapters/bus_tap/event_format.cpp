#include "bus_tap/event_format.h"

#include "bus/text.h"

namespace hub {

std::string format_event_line(const Event& event) {
  std::string line = std::to_string(event.seq);
  line += ' ';
  line += format_utc_time(event.time_ns);
  line += ' ';
  append_printable(line, event.source);
  line += ' ';
  append_printable(line, event.topic());
  line += ' ';
  append_printable(line, event.payload());
  return line;
}

std::string format_event_json(const Event& event) {
  JsonObject json;
  json.add("seq", static_cast<int64_t>(event.seq))
      .add("time", format_utc_time(event.time_ns))
      .add("time_ns", static_cast<int64_t>(event.time_ns))
      .add("source", event.source)
      .add("topic", event.topic())
      .add("content_type", event.content_type)
      .add("retained", event.retained());
  const std::string_view payload = event.payload();
  if (!payload.empty() && is_valid_json(payload)) {
    json.add_raw("payload", compact_json(payload));
  } else if (is_valid_utf8(payload)) {
    json.add("payload", payload);
  } else {
    std::string encoded;
    append_base64(encoded, payload);
    json.add("payload_base64", encoded);
  }
  return json.str();
}

}  // namespace hub
