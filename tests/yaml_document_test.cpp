// core/yaml_document.h: YAML within bounds, keys given once, one document.
#include <chrono>

#include <catch2/catch.hpp>

#include "core/yaml_document.h"

using namespace hub;

namespace {

// A classic "billion laughs": nine levels of nine aliases each, 9^9 nodes in ~600 bytes.
std::string billion_laughs() {
  std::string text = "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
  for (int level = 1; level <= 9; ++level) {
    const std::string prev = "*a" + std::to_string(level - 1);
    text += "a" + std::to_string(level) + ": &a" + std::to_string(level) + " [";
    for (int i = 0; i < 9; ++i) text += (i ? ", " : "") + prev;
    text += "]\n";
  }
  return text;
}

std::string problems(const std::string& text) {
  auto node = parse_yaml(text, "f.yml");
  REQUIRE_FALSE(node);
  return node.error();
}

}  // namespace

TEST_CASE("a document within bounds parses as yaml-cpp would", "[yaml]") {
  auto node = parse_yaml("a: 1\nb: &x {c: [1, 2]}\nd: *x\n", "f.yml");
  REQUIRE(node);
  CHECK((*node)["a"].as<int>() == 1);
  CHECK((*node)["d"]["c"][1].as<int>() == 2);
  auto empty = parse_yaml("", "f.yml");
  REQUIRE(empty);
  CHECK(empty->IsNull());
}

TEST_CASE("an alias bomb is refused at once, naming the file and place", "[yaml]") {
  const std::string bomb = billion_laughs();
  CHECK(bomb.size() < 700);
  const auto began = std::chrono::steady_clock::now();
  const std::string e = problems(bomb);
  CHECK(std::chrono::steady_clock::now() - began < std::chrono::seconds(1));
  CHECK_THAT(e, Catch::StartsWith("f.yml:"));
  CHECK_THAT(e, Catch::Contains("more than 100000 YAML nodes, counting each alias as the nodes "
                                "it stands for"));
}

TEST_CASE("the node bound counts aliases as what they stand for", "[yaml]") {
  YamlLimits limits;
  limits.max_nodes = 20;
  // 1 map + 2 keys + a list of 3 + 1 key + an alias of the list (4): 12 nodes.
  CHECK(parse_yaml("a: &l [1, 2, 3]\nb: *l\n", "f.yml", limits));
  // Three aliases of a list of 5 (6 each) and the rest: more than 20.
  auto over = parse_yaml("a: &l [1, 2, 3, 4, 5]\nb: [*l, *l]\n", "f.yml", limits);
  REQUIRE_FALSE(over);
  CHECK_THAT(over.error(), Catch::Contains("f.yml:2:"));
  CHECK_THAT(over.error(), Catch::Contains("b[1]: more than 20 YAML nodes"));
}

TEST_CASE("text over the byte bound is refused before it is parsed", "[yaml]") {
  YamlLimits limits;
  limits.max_bytes = 10;
  auto node = parse_yaml("a: 1234567890\n", "f.yml", limits);
  REQUIRE_FALSE(node);
  CHECK(node.error() == "f.yml: is 14 bytes, more than the 10 allowed");
}

TEST_CASE("every key given twice in a map is reported with both lines", "[yaml]") {
  const std::string e = problems("a: 1\nm:\n  x: 1\n  y: 2\n  x: 3\nl: [{k: 1, k: 2}]\na: 2\n");
  CHECK_THAT(e, Catch::Contains("f.yml:5:3: m.x: given twice in one map (first at line 3)"));
  CHECK_THAT(e, Catch::Contains("f.yml:6:12: l[0].k: given twice in one map (first at line 6)"));
  CHECK_THAT(e, Catch::Contains("f.yml:7:1: a: given twice in one map (first at line 1)"));
  // The same key in different maps is fine, and so is a key that is an alias of another.
  CHECK(parse_yaml("a: {x: 1}\nb: {x: 2}\n", "f.yml"));
  CHECK_THAT(problems("&k x: 1\n*k : 2\n"), Catch::Contains("x: given twice"));
}

TEST_CASE("a cycle, a second document and broken YAML are named", "[yaml]") {
  CHECK_THAT(problems("a: &a [1, *a]\n"),
             Catch::Contains("f.yml:1:11: a[1]: an alias inside the node it names"));
  CHECK_THAT(problems("a: 1\n---\nb: 2\n"), Catch::Contains("f.yml: holds more than one"));
  CHECK(parse_yaml("a: 1\n---\n", "f.yml"));  // a final '---' adds nothing
  CHECK_THAT(problems("a: [1,\n"), Catch::StartsWith("f.yml:2:1: not valid YAML: "));
  CHECK_THAT(problems("a: *nothing\n"), Catch::Contains("not valid YAML"));
}
