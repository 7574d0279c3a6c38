#include <catch2/catch.hpp>

#include "core/modules/module_config.h"
#include "support/temp_dir.h"

using namespace hub;
using hub::test::TempDir;

TEST_CASE("module config merges across levels: maps deeply, lists and scalars replace",
          "[config]") {
  TempDir root;
  root.write("config/system/modules/Foo/base.yml",
             "a: 1\nm: {x: 1, y: 2, deep: {k: 1}}\nl: [1, 2]\n");
  root.write("config/site/modules/Foo/local.yml", "m: {y: 3, deep: {j: 2}}\nl: [9]\n");
  root.write("config/customer/modules/Foo/c.yml", "a: 2\n");
  root.write("config/site/modules/Other/x.yml", "a: 99\n");
  auto merged = merge_module_config(root.path(), {"system", "customer", "site"}, "Foo");
  REQUIRE(merged);
  const YAML::Node& c = merged->merged;
  CHECK(c["a"].as<int>() == 2);
  CHECK(c["m"]["x"].as<int>() == 1);
  CHECK(c["m"]["y"].as<int>() == 3);
  CHECK(c["m"]["deep"]["k"].as<int>() == 1);
  CHECK(c["m"]["deep"]["j"].as<int>() == 2);
  REQUIRE(c["l"].size() == 1);
  CHECK(c["l"][0].as<int>() == 9);
}

TEST_CASE("within a level, config files merge in name order", "[config]") {
  TempDir root;
  root.write("config/site/modules/Foo/20-late.yml", "who: late\n");
  root.write("config/site/modules/Foo/10-early.yml", "who: early\nonly_early: true\n");
  root.write("config/site/modules/Foo/notes.txt", "who: ignored\n");
  auto merged = merge_module_config(root.path(), {"site"}, "Foo");
  REQUIRE(merged);
  CHECK(merged->merged["who"].as<std::string>() == "late");
  CHECK(merged->merged["only_early"].as<bool>());
}

TEST_CASE("no config at all is an empty map", "[config]") {
  TempDir root;
  auto merged = merge_module_config(root.path(), {"site"}, "Foo");
  REQUIRE(merged);
  CHECK(merged->merged.IsMap());
  CHECK(merged->merged.size() == 0);
}

TEST_CASE("a broken module config file is named with its line", "[config]") {
  TempDir root;
  const auto bad = root.write("config/site/modules/Foo/bad.yml", "a: 1\nb: [unclosed\n");
  auto merged = merge_module_config(root.path(), {"site"}, "Foo");
  REQUIRE_FALSE(merged);
  CHECK_THAT(merged.error(), Catch::StartsWith(bad.string() + ":"));
  CHECK_THAT(merged.error(), Catch::Contains("not valid YAML"));

  TempDir list_root;
  const auto list = list_root.write("config/site/modules/Foo/list.yml", "- 1\n- 2\n");
  auto not_map = merge_module_config(list_root.path(), {"site"}, "Foo");
  REQUIRE_FALSE(not_map);
  CHECK(not_map.error() ==
        list.string() + ":1:1: expected a map of settings (key: value) at the top");
}

TEST_CASE("a bad hub: section is named with its own file and line", "[config]") {
  TempDir root;
  root.write("config/system/modules/Foo/a.yml", "hub:\n  scripts:\n    timeout: 2s\n");
  auto good = merge_module_config(root.path(), {"system", "site"}, "Foo");
  REQUIRE(good);
  CHECK(good->script_timeout == std::chrono::milliseconds(2000));
  const auto bad = root.write("config/site/modules/Foo/z.yml",
                              "colour: red\nhub:\n  scripts:\n    timeout: soon\n");
  auto merged = merge_module_config(root.path(), {"system", "site"}, "Foo");
  REQUIRE_FALSE(merged);
  CHECK_THAT(merged.error(),
             Catch::StartsWith(bad.string() + ":4:14: hub.scripts.timeout: expected a duration"));
}

TEST_CASE("a key given twice in a module config file is refused, naming both lines", "[config]") {
  TempDir root;
  const auto file =
      root.write("config/site/modules/Foo/a.yml", "db:\n  host: a\n  port: 1\n  host: b\n");
  auto merged = merge_module_config(root.path(), {"site"}, "Foo");
  REQUIRE_FALSE(merged);
  CHECK_THAT(merged.error(),
             Catch::Contains(file.string() + ":4:3: db.host: given twice in one map (first at "
                                             "line 2)"));
}

TEST_CASE("a module's hub.scripts.timeout of 0 is refused", "[config]") {
  TempDir root;
  const auto file =
      root.write("config/site/modules/Foo/a.yml", "hub:\n  scripts:\n    timeout: 0s\n");
  auto merged = merge_module_config(root.path(), {"site"}, "Foo");
  REQUIRE_FALSE(merged);
  CHECK_THAT(merged.error(),
             Catch::Contains(file.string() +
                             ":3:14: hub.scripts.timeout: expected at least 100 ms, got 0s"));
}

TEST_CASE("aliases that stand for too many nodes are refused before anything copies them",
          "[config]") {
  // 9^6 nodes from a few hundred bytes: each file alone is cheap as yaml-cpp holds it (an
  // alias is shared), but merging one onto the other expanded every alias.
  std::string bomb = "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
  for (int level = 1; level <= 6; ++level) {
    const std::string prev = "*l" + std::to_string(level - 1);
    bomb += "l" + std::to_string(level) + ": &l" + std::to_string(level) + " {";
    for (int i = 0; i < 9; ++i) bomb += (i ? ", k" : "k") + std::to_string(i) + ": " + prev;
    bomb += "}\n";
  }
  TempDir root;
  const auto first = root.write("config/system/modules/Foo/a.yml", bomb);
  root.write("config/site/modules/Foo/a.yml", bomb);
  auto merged = merge_module_config(root.path(), {"system", "site"}, "Foo");
  REQUIRE_FALSE(merged);
  CHECK_THAT(merged.error(), Catch::StartsWith(first.string() + ":"));
  CHECK_THAT(merged.error(), Catch::Contains("more than 100000 YAML nodes"));
}

TEST_CASE("a config file with a second YAML document is refused, not half read", "[config]") {
  TempDir root;
  const auto file = root.write("config/site/modules/Foo/a.yml", "a: 1\n---\nb: 2\n");
  auto merged = merge_module_config(root.path(), {"site"}, "Foo");
  REQUIRE_FALSE(merged);
  CHECK_THAT(merged.error(),
             Catch::Contains(file.string() + ": holds more than one YAML document"));
  root.write("config/site/modules/Foo/a.yml", "---\na: 1\n...\n---\n");  // ends, adds nothing
  CHECK(merge_module_config(root.path(), {"site"}, "Foo"));
}
