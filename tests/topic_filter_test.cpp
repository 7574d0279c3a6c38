#include <catch2/catch.hpp>

#include "bus/topic_filter.h"

using namespace hub;

TEST_CASE("MQTT-style patterns match topics level by level", "[filter]") {
  struct Case {
    const char* pattern;
    const char* topic;
    bool matches;
  };
  const Case cases[] = {
      {"#", "Hub/startup", true},
      {"Hub/#", "Hub/startup", true},
      {"Hub/#", "Hub", true},  // '#' also matches the parent level
      {"Hub/#", "Hubx/startup", false},
      {"Hub/+", "Hub/startup", true},
      {"Hub/+", "Hub", false},
      {"+/startup", "Hub/startup", true},
      {"+/startup", "Timer/tick", false},
      {"+/+", "Timer/tick", true},
      {"Timer/tick", "Timer/tick", true},
      {"Timer/tick", "Timer/ticks", false},
      {"Timer/tick", "Timer/tic", false},
      {"Timer", "Timer/tick", false},
      {"+", "Timer/tick", false},
  };
  for (const auto& c : cases) {
    INFO(c.pattern << " vs " << c.topic);
    CHECK(pattern_matches(c.pattern, c.topic) == c.matches);
  }
}

TEST_CASE("invalid patterns are refused with the reason", "[filter]") {
  CHECK_THAT(*pattern_problem("Hub/#/x"), Catch::Contains("last level"));
  CHECK_THAT(*pattern_problem("Hub/start+"), Catch::Contains("whole level"));
  CHECK_THAT(*pattern_problem("Hub#"), Catch::Contains("whole level"));
  CHECK(pattern_problem(""));
  CHECK_FALSE(TopicFilter::parse({"Hub/#", "a/#/b"}));
}

TEST_CASE("a filter subscribes ZeroMQ to the prefix before each wildcard", "[filter]") {
  auto all = TopicFilter::parse({});
  REQUIRE(all);
  CHECK(all->matches_all());
  CHECK(all->zmq_prefixes() == std::vector<std::string>{""});

  auto some = TopicFilter::parse({"Hub/+", "Timer/tick", "Hub/#", "+/failed"});
  REQUIRE(some);
  CHECK_FALSE(some->matches_all());
  CHECK(some->zmq_prefixes() == std::vector<std::string>{"Hub/", "Timer/tick", ""});
  CHECK(some->matches("Hub/startup"));
  CHECK(some->matches("Web/failed"));
  CHECK_FALSE(some->matches("Timer/ticks"));
}
