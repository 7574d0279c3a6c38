// How bus-tap prints an event: one line per event, whatever the payload holds.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "bus/subscriber.h"

namespace hub {

// "SEQ TIME SOURCE TOPIC PAYLOAD": time in UTC (ISO 8601, microseconds); the payload
// as text with control characters and invalid UTF-8 escaped (see append_printable).
std::string format_event_line(const Event& event);

// One JSON object: seq, time, time_ns, source, topic, content_type, retained, and the
// payload as embedded JSON when it is valid JSON (and `embed_json`), else as a string
// when it is UTF-8 text, else base64 under "payload_base64".
std::string format_event_json(const Event& event, bool embed_json = true);

// `json` (compact, valid) indented by two spaces a level, as --pretty prints it.
std::string pretty_json(std::string_view json);

// Why `format` (bus-tap -F) cannot be used, or nullopt when it can.
std::optional<std::string> event_format_problem(std::string_view format);

// The event through `format`, mosquitto_sub's -F: %t topic, %p payload (as it is), %x/%X
// payload in hex, %l payload length, %r retained (0/1), %C content type, %I time (ISO 8601,
// UTC), %U Unix time with nanoseconds, %j the JSON object with the payload as a string,
// %J with a JSON payload embedded, %s seq, %S source, %% a percent sign; @ and a letter
// the event's UTC time through strftime (@Y, @H, ...; @@ an at sign); \n \t \r \a \e \v
// \0 \\ escapes. `pretty` indents %j and %J.
std::string format_event(std::string_view format, const Event& event, bool pretty = false);

}  // namespace hub
