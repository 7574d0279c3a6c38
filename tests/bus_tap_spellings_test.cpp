// bus-tap with mosquitto_sub's spellings, against a real hubd: -v -t -T -C -W -R -N -F,
// --retained-only, --pretty, --last counting matching events, and the hint for a
// pattern without '/'.
#include <catch2/catch.hpp>

#include "support/running_hub.h"

using namespace hub;
using namespace hub::test;

namespace {

struct Tap {
  int exit = -1;
  std::vector<std::string> out;
  std::string err;
};

Tap bus_tap(const TempDir& root, std::vector<std::string> args) {
  args.insert(args.begin(), {"--root", root.path().string()});
  ChildProcess p(BUS_TAP_PATH, args);
  Tap t;
  t.exit = p.wait_exit().value_or(-1);
  t.out = p.stdout_lines();
  t.err = p.stderr_text();
  return t;
}

void publish(const TempDir& root, const std::string& topic, const std::string& payload,
             bool retain = false) {
  std::vector<std::string> args{"--root", root.path(), "publish", "-t", topic, "-m", payload};
  if (retain) args.push_back("-r");
  ChildProcess p(HUBCTL_PATH, args);
  REQUIRE(p.wait_exit() == 0);
}

}  // namespace

TEST_CASE("bus-tap --last N shows the last N matching events, -T leaves topics out",
          "[bus-tap][hubd]") {
  TempDir root;
  RunningHub hub(root);
  for (int i = 1; i <= 3; ++i) publish(root, "Probe/started", std::to_string(i));
  for (int i = 0; i < 100; ++i) publish(root, "Noise/tick", std::to_string(i));

  // The last 3 Probe/started, though 100 other events came after them.
  const Tap last = bus_tap(root, {"--last", "3", "-F", "%t %p", "Probe/started"});
  CHECK(last.exit == 0);
  CHECK(last.out ==
        std::vector<std::string>{"Probe/started 1", "Probe/started 2", "Probe/started 3"});
  CHECK(bus_tap(root, {"--last", "2", "-F", "%p", "-t", "Probe/#"}).out ==
        std::vector<std::string>{"2", "3"});
  CHECK(bus_tap(root, {"--last", "10", "Nobody/#"}).out.empty());

  // -T: everything but Noise's, counted among what is shown.
  const Tap excluded =
      bus_tap(root, {"-v", "-t", "#", "-T", "Noise/#", "-T", "Hub/#", "--last", "2", "-F", "%t"});
  CHECK(excluded.out == std::vector<std::string>{"Probe/started", "Probe/started"});
  CHECK(bus_tap(root, {"-T", "bad/#/x"}).exit == 2);
}

TEST_CASE("bus-tap -F, -N, --pretty, --retained-only and -W -C as mosquitto_sub",
          "[bus-tap][hubd]") {
  TempDir root;
  RunningHub hub(root);
  publish(root, "Cfg/mode", "{\"on\":true}", /*retain=*/true);
  publish(root, "Cfg/name", "front door", /*retain=*/true);
  publish(root, "Cfg/live", "not retained");

  const Tap retained = bus_tap(root, {"--retained-only", "-F", "%r %t %p", "Cfg/#"});
  CHECK(retained.exit == 0);
  CHECK(retained.out ==
        std::vector<std::string>{"1 Cfg/mode {\"on\":true}", "1 Cfg/name front door"});
  CHECK(bus_tap(root, {"--retained-only", "-R"}).exit == 2);

  const Tap no_eol = bus_tap(root, {"--retained-only", "-N", "-F", "%p;", "Cfg/#"});
  CHECK(no_eol.out == std::vector<std::string>{"{\"on\":true};front door;"});

  const Tap pretty = bus_tap(root, {"--retained-only", "-j", "--pretty", "Cfg/mode"});
  REQUIRE(pretty.out.size() > 5);
  CHECK(pretty.out.front() == "{");
  CHECK_THAT(pretty.out[1], Catch::Matches("  \"seq\": [0-9]+,"));
  CHECK(pretty.out.back() == "}");
  CHECK(bus_tap(root, {"-j", "-F", "%t"}).exit == 2);
  CHECK(bus_tap(root, {"-F", "%q"}).exit == 2);

  // -R: nothing retained; -W ends the wait, and with -C unmet exits 3.
  const Tap quiet = bus_tap(root, {"-R", "-C", "1", "-W", "0.3", "Cfg/#"});
  CHECK(quiet.exit == 3);
  CHECK(quiet.out.empty());
}

TEST_CASE("bus-tap hints at the '/' a pattern lacks", "[bus-tap][hubd]") {
  TempDir root;
  RunningHub hub(root);
  const Tap tap = bus_tap(root, {"-C", "1", "-W", "0.2", "Timer"});
  CHECK(tap.exit == 3);
  CHECK_THAT(tap.err,
             Catch::Contains("hint: 'Timer' has no '/'") && Catch::Contains("try 'Timer/#'"));
  CHECK(bus_tap(root, {"-C", "1", "-W", "5", "Hub/startup"}).err.empty());
  CHECK(bus_tap(root, {"-C", "1", "-W", "5", "#"}).err.empty());
}
