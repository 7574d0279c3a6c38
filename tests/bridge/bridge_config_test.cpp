#include <catch2/catch.hpp>

#include <fstream>

#include "bridge/bridge_config.h"
#include "bridge/payload_form.h"
#include "bridge/topic_template.h"
#include "support/temp_dir.h"

using namespace hub::bridge;

namespace {

std::string write(const hub::test::TempDir& dir, const std::string& name, const std::string& text) {
  const auto path = dir.path() / name;
  std::ofstream(path) << text;
  return path.string();
}

}  // namespace

TEST_CASE("the issue's three-line bridge.yml is a whole configuration", "[bridge]") {
  hub::test::TempDir dir;
  const auto file =
      write(dir, "bridge.yml",
            "broker: {host: 127.0.0.1, port: 1883}\n"
            "device: dev1\n"
            "outbound:\n"
            "  - {from: \"Probe/#\", to: \"fleet/{device}/{module}/{event}\", qos: 1}\n");
  ConfigProblems problems;
  auto config = load_bridge_config({file}, "host", problems);
  INFO(problems.text());
  REQUIRE(config);
  CHECK(config->broker.host == "127.0.0.1");
  CHECK(config->broker.port == 1883);
  CHECK(config->device == "dev1");
  REQUIRE(config->outbound.size() == 1);
  CHECK(config->outbound[0].qos == 1);
  CHECK(config->outbound[0].to.expand({"dev1", "Probe", "x", "Probe/x"}) == "fleet/dev1/Probe/x");
  CHECK(config->broker.client_id == "hub-{device}");
}

TEST_CASE("every mistake in the bridge's config is named with its file, line and key", "[bridge]") {
  hub::test::TempDir dir;
  const auto low = write(dir, "a.yml", "broker: {host: fleet.example, port: 1883}\n");
  const auto high = write(dir, "b.yml",
                          "broker:\n"
                          "  port: 70000\n"
                          "outbound:\n"
                          "  - from: \"Probe/#\"\n"
                          "    to: \"fleet/{devise}/x\"\n"
                          "    qos: 2\n"
                          "  - {from: \"a/b/c\", to: \"x\", colour: red}\n");
  ConfigProblems problems;
  REQUIRE_FALSE(load_bridge_config({low, high}, "host", problems));
  const std::string text = problems.text();
  INFO(text);
  CHECK(text.find(high + ":2:9: broker.port: expected a whole number from 1 to 65535") !=
        std::string::npos);
  CHECK(text.find(high + ":5:9: outbound[0].to: 'fleet/{devise}/x': {devise} is not known") !=
        std::string::npos);
  CHECK(text.find(high + ":6:10: outbound[0].qos: expected a whole number from 0 to 1") !=
        std::string::npos);
  CHECK(text.find(high + ":7:12: outbound[1].from: expected a local pattern") != std::string::npos);
  CHECK(text.find("outbound[1].colour: unknown key") != std::string::npos);
  CHECK(problems.lines.size() == 5);
}

TEST_CASE("a config without a broker host, or with a broken file, is refused", "[bridge]") {
  hub::test::TempDir dir;
  ConfigProblems problems;
  REQUIRE_FALSE(load_bridge_config(
      {write(dir, "a.yml", "broker: {port: 1}\noutbound: [{from: '#', to: all}]\n")}, "h",
      problems));
  CHECK(problems.text().find("a.yml:1:9: broker.host: missing") != std::string::npos);
  ConfigProblems torn;
  REQUIRE_FALSE(load_bridge_config({write(dir, "b.yml", "broker: {host: [\n")}, "h", torn));
  CHECK(torn.text().find("b.yml:") != std::string::npos);
}

TEST_CASE("topic templates expand their names and refuse what is not a topic", "[bridge]") {
  auto t = TopicTemplate::parse("fleet/{device}/{topic}", {"device", "topic"});
  REQUIRE(t);
  CHECK(t->expand({"d1", "M", "e", "M/e"}) == "fleet/d1/M/e");
  CHECK_FALSE(TopicTemplate::parse("fleet/#", {"device"}));
  CHECK(TopicTemplate::parse("fleet/{device}/cmd/#", {"device"}, true));
  CHECK_FALSE(TopicTemplate::parse("fleet/{device", {"device"}));
  CHECK_FALSE(TopicTemplate::parse("fleet/device}", {"device"}));
  CHECK_FALSE(TopicTemplate::parse("", {"device"}));
}

TEST_CASE("wrapped payloads carry the stamp, and JSON stays JSON", "[bridge]") {
  StampedEvent e;
  e.topic = "Probe/x";
  e.payload = R"({"n": 1})";
  e.source = "Probe";
  e.seq = 41;
  e.time_ns = 0;
  CHECK(
      wrap_outbound(e) ==
      R"({"topic":"Probe/x","seq":41,"time":"1970-01-01T00:00:00.000000Z","source":"Probe","payload":{"n":1}})");
  e.payload = std::string_view("\xff\x00", 2);
  CHECK(wrap_outbound(e).find(R"("payload_base64":"/wA=")") != std::string::npos);
  CHECK(wrap_inbound("fleet/d/cmd/reboot", "now", 1, false) ==
        R"({"remote_topic":"fleet/d/cmd/reboot","qos":1,"retain":false,"payload":"now"})");
}

TEST_CASE("a key given twice in the bridge's config is refused, naming both lines", "[bridge]") {
  hub::test::TempDir dir;
  ConfigProblems problems;
  REQUIRE_FALSE(load_bridge_config(
      {write(dir, "a.yml", "broker: {host: a.example}\ndevice: d1\nbroker: {host: b.example}\n")},
      "h", problems));
  CHECK_THAT(problems.text(),
             Catch::Contains("a.yml:3:1: broker: given twice in one map (first at line 1)"));
}
