#include <catch2/catch.hpp>

#include "bus_tap/event_format.h"

using namespace hub;

namespace {

Event make_event(uint64_t seq, std::string_view topic, std::string_view source,
                 std::string_view content_type, std::string_view payload) {
  std::string header;
  wire::encode(wire::EventHeader{0, seq, 1'795'245'878'324'132'531, source, content_type}, header);
  return *Event::decode(zmq::message_t(topic.data(), topic.size()),
                        zmq::message_t(header.data(), header.size()),
                        zmq::message_t(payload.data(), payload.size()));
}

}  // namespace

TEST_CASE("bus-tap prints seq, time, source, topic and payload on one line", "[bus-tap]") {
  const Event event = make_event(12, "Timer/tick", "Timer", "application/json", "{\"n\":\n1}");
  CHECK(format_event_line(event) == "12 2026-11-21T07:24:38.324132Z Timer Timer/tick {\"n\":\\n1}");
}

TEST_CASE("bus-tap --json embeds JSON payloads and keeps others as text or base64", "[bus-tap]") {
  const Event json = make_event(1, "Hub/startup", "Hub", "application/json", "{ \"pid\": 4 }\n");
  CHECK(format_event_json(json) ==
        "{\"seq\":1,\"time\":\"2026-11-21T07:24:38.324132Z\",\"time_ns\":1795245878324132531,"
        "\"source\":\"Hub\",\"topic\":\"Hub/startup\",\"content_type\":\"application/json\","
        "\"retained\":false,\"payload\":{\"pid\":4}}");

  const Event text = make_event(2, "A/b", "admin", "text/plain", "not json");
  CHECK_THAT(format_event_json(text), Catch::EndsWith("\"payload\":\"not json\"}"));

  const Event binary = make_event(3, "A/b", "admin", "", std::string("\xff\x00", 2));
  CHECK_THAT(format_event_json(binary), Catch::EndsWith("\"payload_base64\":\"/wA=\"}"));
}
