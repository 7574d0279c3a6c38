#include "console/event_view.h"

#include "bus/text.h"

namespace hub::console {

std::string event_json(const EventView& e, bool history) {
  const bool cut = e.payload.size() > kPayloadShown;
  JsonObject o;
  o.add("seq", static_cast<int64_t>(e.seq))
      .add("time", format_utc_time(e.time_ns))
      .add("topic", e.topic)
      .add("source", e.source)
      .add("content_type", e.content_type)
      .add("retained", e.retained)
      .add("payload", cut ? e.payload.substr(0, kPayloadShown) : e.payload);
  if (cut) o.add("truncated", true);
  if (history) o.add("history", true);
  return o.str();
}

std::string_view topic_module(std::string_view topic) { return topic.substr(0, topic.find('/')); }

}  // namespace hub::console
