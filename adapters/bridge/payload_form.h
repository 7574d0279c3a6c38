// How payloads cross the bridge. Outbound `wrapped`: one JSON object with the broker's
// stamp, {"topic":"Probe/x","seq":41,"time":"2026-...Z","source":"Probe","content_type":"...",
// "payload":...}, where payload is the event's JSON as it is when it is JSON, else a string
// when it is UTF-8 text, else "payload_base64". Inbound `wrapped`: {"remote_topic":"...",
// "qos":1,"retain":false,"payload":"..."} with the payload as a string (so a script finds it
// in $HUB_EVENT_PAYLOAD), or "payload_base64" when it is not UTF-8 text.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace hub::bridge {

struct StampedEvent {
  std::string_view topic, payload, source, content_type;
  uint64_t seq = 0;
  uint64_t time_ns = 0;
};
std::string wrap_outbound(const StampedEvent& e);

std::string wrap_inbound(std::string_view remote_topic, std::string_view payload, int qos,
                         bool retain);

}  // namespace hub::bridge
