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

TEST_CASE("bus-tap -F formats as mosquitto_sub does, with %s seq and %S source", "[bus-tap]") {
  const Event e = make_event(12, "Timer/tick", "Timer", "application/json", "{\"n\":1}");
  CHECK(format_event("%t %p", e) == "Timer/tick {\"n\":1}");
  CHECK(format_event("%s|%S|%C|%l|%r|%%", e) == "12|Timer|application/json|7|0|%");
  CHECK(format_event("%I", e) == "2026-11-21T07:24:38.324132Z");
  CHECK(format_event("%U", e) == "1795245878.324132531");
  CHECK(format_event("%x %X", make_event(1, "A/b", "a", "", "\x01\xab")) == "01ab 01AB");
  CHECK(format_event("@Y-@m-@d @H:@M:@S @@", e) == "2026-11-21 07:24:38 @");
  CHECK(format_event("a\\tb\\nc\\\\", e) == "a\tb\nc\\");
  CHECK(format_event("%J", e) == format_event_json(e));
  CHECK_THAT(format_event("%j", e), Catch::EndsWith("\"payload\":\"{\\\"n\\\":1}\"}"));
  CHECK(format_event("%J", e, /*pretty=*/true) == pretty_json(format_event_json(e)));

  CHECK_FALSE(event_format_problem("%t %p %j %J %s %S @H \\n"));
  CHECK(event_format_problem("%q") ==
        "unknown field %q (expected one of %t %p %x %X %l %r %C %I %U %j %J %s %S %%)");
  CHECK(event_format_problem("%") == "the format ends with '%' (%% for a percent sign)");
  CHECK(event_format_problem("\\z") ==
        "unknown escape \\z (expected \\n \\t \\r \\a \\e \\v \\0 or \\\\)");
  CHECK(event_format_problem("@1") == "'@1' is no strftime field (expected @ and a letter)");
}

TEST_CASE("bus-tap --pretty indents JSON, strings left as they are", "[bus-tap]") {
  CHECK(pretty_json("{\"a\":1,\"b\":[1,2],\"c\":{},\"d\":\"x,{y}: \\\"z\\\"\"}") ==
        "{\n  \"a\": 1,\n  \"b\": [\n    1,\n    2\n  ],\n  \"c\": {},\n"
        "  \"d\": \"x,{y}: \\\"z\\\"\"\n}");
  CHECK(pretty_json("[]") == "[]");
}
