// How bus-tap prints an event: one line per event, whatever the payload holds.
#pragma once

#include <string>

#include "bus/subscriber.h"

namespace hub {

// "SEQ TIME SOURCE TOPIC PAYLOAD": time in UTC (ISO 8601, microseconds); the payload
// as text with control characters and invalid UTF-8 escaped (see append_printable).
std::string format_event_line(const Event& event);

// One JSON object: seq, time, time_ns, source, topic, content_type, retained, and the
// payload as embedded JSON when it is valid JSON, else as a string when it is UTF-8 text,
// else base64 under "payload_base64".
std::string format_event_json(const Event& event);

}  // namespace hub
