#include "bridge/payload_form.h"

#include "bus/text.h"

namespace hub::bridge {
namespace {

// Adds "payload" (JSON kept as JSON when `json_as_is`, else a string) or "payload_base64".
void add_payload(JsonObject& json, std::string_view payload, bool json_as_is) {
  if (json_as_is && !payload.empty() && is_valid_json(payload)) {
    json.add_raw("payload", compact_json(payload));
  } else if (is_valid_utf8(payload) && payload.find('\0') == std::string_view::npos) {
    json.add("payload", payload);
  } else {
    std::string encoded;
    append_base64(encoded, payload);
    json.add("payload_base64", encoded);
  }
}

}  // namespace

std::string wrap_outbound(const StampedEvent& e) {
  JsonObject json;
  json.add("topic", e.topic)
      .add("seq", static_cast<int64_t>(e.seq))
      .add("time", format_utc_time(e.time_ns))
      .add("source", e.source);
  if (!e.content_type.empty()) json.add("content_type", e.content_type);
  add_payload(json, e.payload, true);
  return json.str();
}

std::string wrap_inbound(std::string_view remote_topic, std::string_view payload, int qos,
                         bool retain) {
  JsonObject json;
  json.add("remote_topic", remote_topic)
      .add("qos", static_cast<int64_t>(qos))
      .add("retain", retain);
  add_payload(json, payload, false);
  return json.str();
}

}  // namespace hub::bridge
