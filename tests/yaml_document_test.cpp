// bus/yaml_document.h: YAML within bounds, keys given once, one document.
#include <sys/resource.h>

#include <chrono>

#include <catch2/catch.hpp>

#include "bus/yaml_document.h"

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

TEST_CASE("the text bound counts aliases of scalars as the text they stand for", "[yaml]") {
  YamlLimits limits;
  limits.max_text_bytes = 100;
  const std::string forty(40, 'x');
  CHECK(parse_yaml("a: &s " + forty + "\nb: *s\n", "f.yml", limits));  // 80 bytes
  auto over = parse_yaml("a: &s " + forty + "\nb: [*s, *s]\n", "f.yml", limits);
  REQUIRE_FALSE(over);
  CHECK_THAT(over.error(), Catch::Contains("f.yml:2:9: b[1]: more than 100 bytes of text"));
}

TEST_CASE("a large scalar aliased as keys deep down is refused in memory of its own size",
          "[yaml]") {
  // 400 KB, used as the key of 2000 nested maps: 800 MB of keys, and a path through them
  // that names each one.
  std::string text = "big: &k " + std::string(400'000, 'k') + "\ndeep: ";
  for (int i = 0; i < 2000; ++i) text += "{*k : ";
  text += "end";
  for (int i = 0; i < 2000; ++i) text += "}";
  text += "\n";
  rusage before{};
  ::getrusage(RUSAGE_SELF, &before);
  const std::string e = problems(text);
  rusage after{};
  ::getrusage(RUSAGE_SELF, &after);
  CHECK_THAT(e, Catch::Contains("bytes of text, counting each alias as the text it stands for"));
  CHECK(e.size() < 2000);                                  // the path is shortened, the key too
  CHECK(after.ru_maxrss - before.ru_maxrss < 256 * 1024);  // KiB: far below the expansion
}

TEST_CASE("keys given twice many times are reported twenty times, then counted", "[yaml]") {
  std::string text = "a: &k key\nm:\n  *k : 0\n";
  for (int i = 1; i <= 500; ++i) text += "  *k : " + std::to_string(i) + "\n";
  const std::string e = problems(text);
  size_t lines = 0;
  for (char c : e) lines += c == '\n';
  CHECK(lines == 20);  // 20 reports, and the line that counts the rest
  CHECK_THAT(e, Catch::Contains("f.yml:4:3: m.key: given twice in one map (first at line 3)"));
  CHECK_THAT(e, Catch::EndsWith("f.yml: and 480 more keys given twice"));
}
