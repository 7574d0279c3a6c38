#include <catch2/catch.hpp>

#include "bus/text.h"

using namespace hub;

TEST_CASE("JSON is recognised exactly", "[text]") {
  for (const char* good : {"{}", "[]", "0", "-1.5e+3", "\"a\\u00e9\\n\"", "true", "null",
                           " {\"a\": [1, {\"b\": null}], \"c\": \"\xc3\xa9\"} ", "[[[[]]]]"}) {
    INFO(good);
    CHECK(is_valid_json(good));
  }
  for (const char* bad : {"", "{", "{\"a\":}", "[1,]", "01", "1.", "\"unterminated", "tru", "{} {}",
                          "'single'", "{\"a\" 1}", "\"tab\there\"", "\"\\x\"", "nan"}) {
    INFO(bad);
    CHECK_FALSE(is_valid_json(bad));
  }
  CHECK_FALSE(is_valid_json(std::string(100000, '[')));  // deep nesting is refused, not a crash
}

TEST_CASE("UTF-8 is validated strictly", "[text]") {
  CHECK(is_valid_utf8("plain"));
  CHECK(is_valid_utf8("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"));
  CHECK_FALSE(is_valid_utf8("\xc0\xaf"));          // overlong
  CHECK_FALSE(is_valid_utf8("\xed\xa0\x80"));      // surrogate
  CHECK_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));  // above U+10FFFF
  CHECK_FALSE(is_valid_utf8("\xe2\x82"));          // truncated
}

TEST_CASE("text helpers keep one event on one line", "[text]") {
  std::string printable;
  append_printable(printable, std::string("a\nb\tc\\d\x01\xff\xc3\xa9", 11));
  CHECK(printable == "a\\nb\\tc\\\\d\\x01\\xff\xc3\xa9");

  CHECK(compact_json("{ \"a b\" : [ 1 ,\n 2 ],\n\"c\":\"x\\\" y\" }") ==
        "{\"a b\":[1,2],\"c\":\"x\\\" y\"}");

  std::string quoted;
  append_json_string(quoted, "say \"hi\"\n\x01");
  CHECK(quoted == "\"say \\\"hi\\\"\\n\\u0001\"");
  CHECK(JsonObject().add("pid", int64_t{7}).add("ok", true).add("name", "x").str() ==
        "{\"pid\":7,\"ok\":true,\"name\":\"x\"}");
}

TEST_CASE("base64 and UTC time render as standard text", "[text]") {
  std::string b64;
  append_base64(b64, "hub");
  append_base64(b64, "hu");
  append_base64(b64, "h");
  CHECK(b64 == "aHViaHU=aA==");
  CHECK(format_utc_time(0) == "1970-01-01T00:00:00.000000Z");
  CHECK(format_utc_time(1'795'245'878'324'132'531) == "2026-11-21T07:24:38.324132Z");
}

TEST_CASE("the top-level scalar fields of a JSON object are extracted and decoded", "[text]") {
  const auto fields = json_top_level_scalars(
      " {\"pid\": 42, \"name\":\"caf\\u00e9 \\\"x\\\"\\n\", \"ok\":true, \"none\":null,"
      " \"nested\":{\"a\":\"}\"}, \"list\":[1,\"]\"], \"emoji\":\"\\ud83d\\ude00\", "
      "\"f\":-1.5e3} ");
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"pid", "42"},    {"name", "caf\xc3\xa9 \"x\"\n"}, {"ok", "true"},
      {"none", "null"}, {"emoji", "\xf0\x9f\x98\x80"},   {"f", "-1.5e3"}};
  CHECK(fields == expected);
  CHECK(json_top_level_scalars("[1,2]").empty());
  CHECK(json_top_level_scalars("{\"broken\":").empty());
  CHECK(json_top_level_scalars("{}").empty());
}

TEST_CASE("a JSON string is valid UTF-8 whatever bytes it is given", "[text]") {
  // Each byte that starts no well-formed sequence becomes one U+FFFD; good text is kept.
  const std::pair<std::string, std::string> cases[] = {
      {"ok\xff", "\"ok\\ufffd\""},                               // never valid in UTF-8
      {"\xc0\xaf", "\"\\ufffd\\ufffd\""},                        // overlong '/'
      {"\xe0\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\""},             // overlong, three bytes
      {"\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\""},             // a surrogate
      {"\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""},  // above U+10FFFF
      {"a\xe2\x82", "\"a\\ufffd\\ufffd\""},                      // truncated at the end
      {"\x80x", "\"\\ufffdx\""},                                 // a stray continuation byte
      {"caf\xc3\xa9 \xf0\x9f\x98\x80", "\"caf\xc3\xa9 \xf0\x9f\x98\x80\""},  // kept as is
      {"del\x7f", "\"del\\u007f\""},
  };
  for (const auto& [in, want] : cases) {
    std::string out;
    append_json_string(out, in);
    INFO(want);
    CHECK(out == want);
    CHECK(is_valid_json(out));
  }
  const std::string rejection =
      JsonObject().add("name", "bad\xff\xfe").add("reason", "x\xc0\x80y").str();
  CHECK(is_valid_utf8(rejection));
  CHECK(is_valid_json(rejection));
}

TEST_CASE("printable text cannot drive a terminal", "[text]") {
  std::string out;
  append_printable(out,
                   "a\x1b[2Jb\xc2\x9b"
                   "31mc\r\xc2\xa0");  // ESC, CSI (C1), CR; NBSP stays
  CHECK(out == "a\\x1b[2Jb\\u009b31mc\\r\xc2\xa0");
}

TEST_CASE("a top-level member is found as written", "[text]") {
  const std::string json = R"( {"a": 1, "b" : {"x": [1, "}"]}, "c":"s\"q", "d": null, "a": 2} )";
  CHECK(json_member(json, "a") == "1");  // the first of two
  CHECK(json_member(json, "b") == R"({"x": [1, "}"]})");
  CHECK(json_member(json, "c") == R"("s\"q")");
  CHECK(json_member(json, "d") == "null");
  CHECK(json_member(json, "x") == std::nullopt);  // nested members are not top-level
  CHECK(json_member("{}", "a") == std::nullopt);
  CHECK(json_member("[1]", "a") == std::nullopt);
  CHECK(json_member(R"({"a":1)", "a") == std::nullopt);  // not valid JSON
}
