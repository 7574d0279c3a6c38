#include <catch2/catch.hpp>

#include "core/config/hub_config.h"
#include "support/temp_dir.h"

using namespace hub;
using hub::test::TempDir;

TEST_CASE("hub.yml settings override the defaults", "[config]") {
  TempDir dir;
  const auto file = dir.write("hub.yml",
                              "levels: [system, site]\n"
                              "log:\n  level: debug\n  max_size: 2MiB\n  keep: 5\n"
                              "bus:\n  subscriber_hwm: 500\n  max_payload: 64KiB\n"
                              "shutdown:\n  drain_timeout: 750ms\n");
  auto config = load_hub_config(file);
  REQUIRE(config);
  CHECK(config->levels == std::vector<std::string>{"system", "site"});
  CHECK(config->log.level == "debug");
  CHECK(config->log.max_size == 2 * 1024 * 1024);
  CHECK(config->log.keep == 5);
  CHECK(config->bus.subscriber_hwm == 500);
  CHECK(config->bus.max_payload == 64 * 1024);
  CHECK(config->bus.max_retained == HubConfig().bus.max_retained);  // untouched default
  CHECK(config->shutdown.drain_timeout == std::chrono::milliseconds(750));
}

TEST_CASE("an empty hub.yml means every default", "[config]") {
  TempDir dir;
  auto config = load_hub_config(dir.write("hub.yml", "# nothing here\n"));
  REQUIRE(config);
  CHECK(config->levels == HubConfig().levels);
}

TEST_CASE("an unknown key is an error naming the file, line and key", "[config]") {
  TempDir dir;
  const auto file = dir.write("hub.yml", "bus:\n  subscriber_hwm: 10\n  max_paylod: 5\n");
  auto config = load_hub_config(file);
  REQUIRE_FALSE(config);
  CHECK_THAT(config.error(), Catch::Contains(file.string() + ":3:3: bus.max_paylod: unknown key"));
  CHECK_THAT(config.error(), Catch::Contains("max_payload"));  // the keys it could have meant
}

TEST_CASE("a wrong type is an error saying what was expected", "[config]") {
  TempDir dir;
  const auto file = dir.write("hub.yml",
                              "levels: system\n"
                              "bus:\n  subscriber_hwm: lots\n"
                              "shutdown:\n  drain_timeout: soon\n"
                              "log:\n  level: loud\n");
  auto config = load_hub_config(file);
  REQUIRE_FALSE(config);
  const std::string& e = config.error();
  CHECK_THAT(e, Catch::Contains(":1:9: levels: expected a list of strings, got 'system'"));
  CHECK_THAT(e, Catch::Contains(":3:19: bus.subscriber_hwm: expected an integer from 1 to"));
  CHECK_THAT(e, Catch::Contains(":5:18: shutdown.drain_timeout: expected a duration"));
  CHECK_THAT(e, Catch::Contains(":7:10: log.level: expected trace, debug, info, warn or error"));
}

TEST_CASE("values out of range and bad level names are refused", "[config]") {
  TempDir dir;
  auto config = load_hub_config(
      dir.write("hub.yml", "levels: [site, 'bad name', site]\nbus:\n  subscriber_hwm: 0\n"));
  REQUIRE_FALSE(config);
  CHECK_THAT(config.error(), Catch::Contains("'bad name' is not a level name"));
  CHECK_THAT(config.error(), Catch::Contains("'site' is listed twice"));
  CHECK_THAT(config.error(), Catch::Contains("got 0"));
}

TEST_CASE("broken YAML is an error with its position", "[config]") {
  TempDir dir;
  const auto file = dir.write("hub.yml", "bus:\n  subscriber_hwm: [1, 2\n");
  auto config = load_hub_config(file);
  REQUIRE_FALSE(config);
  CHECK_THAT(config.error(), Catch::StartsWith(file.string() + ":"));
  CHECK_THAT(config.error(), Catch::Contains("not valid YAML"));
}

TEST_CASE("sizes and durations too large to mean anything are refused, not wrapped", "[config]") {
  TempDir dir;
  auto config = load_hub_config(dir.write("hub.yml",
                                          "bus:\n  max_payload: 17179869184GiB\n"
                                          "shutdown:\n  drain_timeout: 600h\n"
                                          "scripts:\n  output_cap: 0\n"));
  REQUIRE_FALSE(config);
  CHECK_THAT(config.error(), Catch::Contains(":2:16: bus.max_payload: expected a size such as"));
  CHECK_THAT(
      config.error(),
      Catch::Contains(":4:18: shutdown.drain_timeout: expected at most 3600000 ms, got 600h"));
  CHECK_THAT(config.error(), Catch::Contains(":6:15: scripts.output_cap: expected from 1 to"));
}

TEST_CASE("a key given twice in hub.yml is refused, naming both lines", "[config]") {
  TempDir dir;
  const auto file = dir.write("hub.yml", "log:\n  level: debug\nbus: {}\nlog: {level: error}\n");
  auto config = load_hub_config(file);
  REQUIRE_FALSE(config);
  CHECK_THAT(
      config.error(),
      Catch::Contains(file.string() + ":4:1: log: given twice in one map (first at line 1)"));
}

TEST_CASE("a directory where hub.yml belongs is an error naming it", "[config]") {
  TempDir dir;
  const auto file = dir.path() / "hub.yml";
  std::filesystem::create_directory(file);
  auto config = load_hub_config(file);
  REQUIRE_FALSE(config);
  CHECK(config.error() == file.string() + ": is a directory, expected a regular file");
}

TEST_CASE("a byte-order mark at the start of hub.yml is dropped", "[config]") {
  TempDir dir;
  auto config = load_hub_config(dir.write("hub.yml", "\xEF\xBB\xBFlog: {level: debug}\n"));
  REQUIRE(config);
  CHECK(config->log.level == "debug");
}

TEST_CASE("journal sizes that would let retention delete what was just acknowledged are refused",
          "[config]") {
  TempDir dir;
  SECTION("a segment smaller than 4 KiB") {
    const auto file = dir.write("hub.yml", "journal:\n  segment_size: 1\n");
    auto config = load_hub_config(file);
    REQUIRE_FALSE(config);
    CHECK_THAT(config.error(), Catch::Contains(file.string() + ":2:17: journal.segment_size") &&
                                   Catch::Contains("expected from 4096"));
  }
  SECTION("a journal smaller than two segments") {
    const auto file = dir.write("hub.yml", "journal:\n  segment_size: 1MiB\n  max_size: 1MiB\n");
    auto config = load_hub_config(file);
    REQUIRE_FALSE(config);
    CHECK_THAT(config.error(), Catch::Contains(file.string() + ":3:13: journal.max_size") &&
                                   Catch::Contains("at least twice journal.segment_size"));
  }
  SECTION("a segment as large as the default journal, with no max_size") {
    const auto file = dir.write("hub.yml", "journal:\n  segment_size: 1GiB\n");
    auto config = load_hub_config(file);
    REQUIRE_FALSE(config);
    CHECK_THAT(config.error(), Catch::Contains(file.string() + ":2:17: journal.segment_size"));
  }
  SECTION("the smallest journal that keeps two segments is fine") {
    auto config =
        load_hub_config(dir.write("hub.yml", "journal: {segment_size: 4KiB, max_size: 8KiB}\n"));
    REQUIRE(config);
    CHECK(config->journal.max_size == 8192);
  }
}

TEST_CASE("hub.yml names the device for the fleet, as one MQTT topic level", "[config]") {
  TempDir dir;
  auto config = load_hub_config(dir.write("hub.yml", "device: press-17\n"));
  REQUIRE(config);
  CHECK(config->device == "press-17");
  CHECK(load_hub_config(dir.write("empty.yml", "levels: [system]\n"))->device.empty());
  const auto bad = dir.write("bad.yml", "levels: [system]\ndevice: a/b\n");
  auto refused = load_hub_config(bad);
  REQUIRE_FALSE(refused);
  CHECK_THAT(refused.error(),
             Catch::Contains(bad.string() + ":2:9: device: expected a name of 1 "
                                            "to 128 characters without /, + or #"));
}

TEST_CASE("hub.yml paths: moves each place of the root, relative or absolute", "[config]") {
  TempDir dir;
  auto config = load_hub_config(dir.write("hub.yml",
                                          "paths:\n"
                                          "  config: etc/hub/config\n"
                                          "  modules: [usr/lib/hub/modules, /etc/hub/modules]\n"
                                          "  events: /etc/hub/events\n"
                                          "  system: usr/lib/hub/system\n"
                                          "  data: var/lib/hub/data\n"
                                          "  run: /run/hub\n"
                                          "  db: var/lib/hub/db\n"
                                          "  log: /var/log/hub\n"));
  REQUIRE(config);
  const RootPlaces& p = config->paths;
  CHECK(p.config == "etc/hub/config");
  CHECK(p.modules == std::vector<std::filesystem::path>{"usr/lib/hub/modules", "/etc/hub/modules"});
  CHECK(p.events == "/etc/hub/events");
  CHECK(p.system == "usr/lib/hub/system");
  CHECK(p.data == "var/lib/hub/data");
  CHECK(p.run == "/run/hub");
  CHECK(p.db == "var/lib/hub/db");
  CHECK(p.log == "/var/log/hub");

  // Unset places keep their defaults (RootLayout fills them in).
  auto some = load_hub_config(dir.write("some.yml", "paths:\n  run: /run/hub\n"));
  REQUIRE(some);
  CHECK(some->paths.run == "/run/hub");
  CHECK(some->paths.config.empty());
  CHECK(some->paths.modules.empty());
  CHECK(load_hub_config(dir.write("none.yml", "levels: [site]\n"))->paths.modules.empty());
}

TEST_CASE("hub.yml paths: that are not directories, leave the root or repeat are refused",
          "[config]") {
  TempDir dir;
  const auto file = dir.write("hub.yml",
                              "paths:\n"
                              "  config: [etc]\n"         // 2: not a string
                              "  events: ../events\n"     // 3: leaves the root
                              "  data: /srv/../etc\n"     // 4: '..' even when absolute
                              "  run: ''\n"               // 5: empty
                              "  db: {dir: x}\n"          // 6: a map
                              "  modules: [a, {x: 1}]\n"  // 7: a tree that is a map
                              "  logs: var/log\n");       // 8: unknown key
  auto config = load_hub_config(file);
  REQUIRE_FALSE(config);
  const std::string& e = config.error();
  CHECK_THAT(e, Catch::Contains(":2:11: paths.config: expected a string, got a list"));
  CHECK_THAT(e, Catch::Contains(":3:11: paths.events: expected a directory, relative to the root "
                                "or absolute, without '..', got '../events'"));
  CHECK_THAT(e, Catch::Contains(":4:9: paths.data: expected a directory"));
  CHECK_THAT(e, Catch::Contains(":5:8: paths.run: expected a directory"));
  CHECK_THAT(e, Catch::Contains(":6:7: paths.db: expected a string, got a map"));
  CHECK_THAT(e, Catch::Contains(":7:16: paths.modules[1]: expected a string, got a map"));
  CHECK_THAT(e, Catch::Contains(":8:3: paths.logs: unknown key"));

  auto trees = load_hub_config(dir.write("trees.yml", "paths:\n  modules: [a, ./a/, ../b]\n"));
  REQUIRE_FALSE(trees);
  CHECK_THAT(trees.error(), Catch::Contains("paths.modules[1]: './a/' is listed twice"));
  CHECK_THAT(trees.error(), Catch::Contains("paths.modules[2]: expected a directory"));
  auto single = load_hub_config(dir.write("single.yml", "paths:\n  modules: modules\n"));
  REQUIRE_FALSE(single);
  CHECK_THAT(single.error(), Catch::Contains("paths.modules: expected a list of strings"));
  auto empty = load_hub_config(dir.write("empty.yml", "paths:\n  modules: []\n"));
  REQUIRE_FALSE(empty);
  CHECK_THAT(empty.error(), Catch::Contains("paths.modules: expected at least one tree"));
  auto nul = load_hub_config(dir.write("nul.yml", "paths:\n  log: \"var\\0log\"\n"));
  REQUIRE_FALSE(nul);
  CHECK_THAT(nul.error(), Catch::Contains("paths.log: holds a NUL character"));
  auto scalar = load_hub_config(dir.write("scalar.yml", "paths: /srv/hub\n"));
  REQUIRE_FALSE(scalar);
  CHECK_THAT(scalar.error(), Catch::Contains("paths:"));
}

// hubd makes run, db and log its own at start (make_private_dir: chmod 0750/0755, run
// given to services.group), and removes a service's workspace RUN/services/INSTANCE/ with
// everything in it. A place that is the root itself (".", "/") would have the root's (or
// the filesystem's) mode and group changed; run and log at one place make a service's log
// directory LOG/services/INSTANCE/ its workspace, removed when the service stops.
TEST_CASE("hub.yml paths: a place that is the root, or hubd's places at one directory, are refused",
          "[config][paths]") {
  TempDir dir;
  auto root = load_hub_config(dir.write("root.yml", "paths:\n  run: .\n"));
  CHECK_FALSE(root);
  auto slash = load_hub_config(dir.write("slash.yml", "paths:\n  db: /\n"));
  CHECK_FALSE(slash);
  auto same = load_hub_config(dir.write("same.yml", "paths:\n  run: var/hub\n  log: var/hub/\n"));
  CHECK_FALSE(same);
}
