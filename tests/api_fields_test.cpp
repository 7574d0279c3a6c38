// core/api/api_fields.h: every field of an API request is checked, and an error names it.
#include <catch2/catch.hpp>

#include "core/api/api_fields.h"
#include "core/api/api_server.h"

using namespace hub;

namespace {

// The check of `json` as the API socket would read it.
Status check(const std::string& json) {
  const ApiRequest r = parse_api_request(json, "admin");
  return check_api_fields(r.method, r.body);
}

}  // namespace

TEST_CASE("API fields of the right types pass", "[api][fields]") {
  CHECK(check(R"({"method":"inspect"})"));
  CHECK(check(R"({"method":"inspect","deadline_ms":1760000000000})"));
  CHECK(check(R"({"method":"start","name":"Timer"})"));
  CHECK(check(R"({"method":"start","name":"Timer","instance":"fast","config":{"a.b":1}})"));
  CHECK(check(R"({"method":"stop","instance":"Timer.fast"})"));
  CHECK(check(R"({"method":"restart","name":"Timer"})"));
  CHECK(check(R"({"method":"report","stats":{"n":1}})"));
  CHECK(check(R"({"method":"port","deadline_ms":-5})"));
  CHECK(check(R"({"method":"reload","dry_run":true})"));
  CHECK(check(R"({"method":"signal","signal":"HUP","name":"Timer"})"));
  CHECK(check(R"({"method":"signal","signal":"HUP","name":"Timer","instance":"fast"})"));
  CHECK(check(
      R"({"method":"signal","signal":"15","all":true})"));  // a past deadline: a timeout later
}

TEST_CASE("an API field of the wrong type is a bad_request naming it", "[api][fields]") {
  const auto refused = [](const std::string& json) {
    const Status s = check(json);
    REQUIRE_FALSE(s);
    CHECK(s.code() == Status::Code::kBadRequest);
    return s.message();
  };
  CHECK(refused(R"({"method":"start","name":5})") ==
        R"(field "name" must be a string, not the number 5)");
  CHECK(refused(R"({"method":"stop","name":"Timer","instance":true})") ==
        R"(field "instance" must be a string, not true)");
  CHECK(refused(R"({"method":"start","name":null})") ==
        R"(field "name" must be a string, not null)");
  CHECK(refused(R"({"method":"start","name":["Timer"]})") ==
        R"(field "name" must be a string, not an array)");
  CHECK(refused(R"({"method":"start","name":"T","instance":"x","config":"a=1"})") ==
        R"(field "config" must be an object, not a string)");
  CHECK(refused(R"({"method":"report","stats":[1]})") ==
        R"(field "stats" must be an object, not an array)");
  CHECK(refused(R"({"method":"inspect","deadline_ms":"soon"})") ==
        R"(field "deadline_ms" must be a whole number, not a string)");
  CHECK(refused(R"({"method":"inspect","deadline_ms":"1760000000000"})") ==
        R"(field "deadline_ms" must be a whole number, not a string)");
  CHECK(refused(R"({"method":"inspect","deadline_ms":1.5e12})") ==
        R"(field "deadline_ms" must be a whole number, not the number 1.5e12)");
  CHECK(refused(R"({"method":"inspect","deadline_ms":{}})") ==
        R"(field "deadline_ms" must be a whole number, not an object)");
  // Larger than any int64: it would wrap or saturate.
  CHECK(refused(R"({"method":"inspect","deadline_ms":99999999999999999999})") ==
        R"(field "deadline_ms" must be a whole number, not the number 99999999999999999999)");
}

TEST_CASE("a field the method does not take is a bad_request naming it", "[api][fields]") {
  const auto message = [](const std::string& json) { return check(json).message(); };
  CHECK(message(R"({"method":"start","nmae":"Timer"})") ==
        R"(start takes no field "nmae" (it takes "name", "instance", "config", "replace", "all"))");
  CHECK(message(R"({"method":"inspect","verbose":true})") ==
        R"(inspect takes no field "verbose" (it takes none))");
  CHECK(message(R"({"method":"report","stats":{},"name":"x"})") ==
        R"(report takes no field "name" (it takes "stats"))");
  CHECK(message(R"({"method":"start","name":"A","name":"B"})") == R"(field "name" given twice)");
  CHECK(message(R"({"method":"reload","dry_run":"yes"})") ==
        R"(field "dry_run" must be true or false, not a string)");
  CHECK(message(R"({"method":"signal","signal":9,"name":"A"})") ==
        R"(field "signal" must be a string, not the number 9)");
  CHECK(message(R"({"method":"signal","signal":"HUP","all":true,"name":"A"})") ==
        R"(field "all" goes alone, not with "name")");
  // A method unknown here is the dispatcher's to refuse; its common fields are checked.
  CHECK(check(R"({"method":"nope","anything":1})"));
  CHECK(message(R"({"method":"nope","deadline_ms":"x"})") ==
        R"(field "deadline_ms" must be a whole number, not a string)");
}
