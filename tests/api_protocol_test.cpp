#include "bus/api_protocol.h"

#include <catch2/catch.hpp>

#include "bus/text.h"

using namespace hub;
using Code = Status::Code;

namespace {

// Every code but kOk, as the API spells it (docs/API.md; unreachable and protocol are
// the client's own).
const std::pair<Code, const char*> kErrorCodes[] = {
    {Code::kFailed, "failed"},
    {Code::kBadRequest, "bad_request"},
    {Code::kUnknownMethod, "unknown_method"},
    {Code::kNotFound, "not_found"},
    {Code::kForbidden, "forbidden"},
    {Code::kTimeout, "timeout"},
    {Code::kUnreachable, "unreachable"},
    {Code::kProtocol, "protocol"},
};

}  // namespace

TEST_CASE("every code has its documented spelling, and back", "[api]") {
  CHECK(api::code_name(Code::kOk) == "ok");
  CHECK(api::code_named("ok") == Code::kOk);
  for (const auto& [code, name] : kErrorCodes) {
    INFO(name);
    CHECK(api::code_name(code) == name);
    CHECK(api::code_named(name) == code);
  }
  CHECK_FALSE(api::code_named("Not_Found"));
  CHECK_FALSE(api::code_named(""));
}

TEST_CASE("the reply envelope is as documented", "[api]") {
  CHECK(api::encode_result("{}") == R"({"ok":true,"result":{}})");
  CHECK(api::encode_result(R"({"port":4242})") == R"({"ok":true,"result":{"port":4242}})");
  CHECK(api::encode_error(Status::not_found("no loaded module Nope")) ==
        R"({"ok":false,"error":{"code":"not_found","message":"no loaded module Nope"}})");
  CHECK(api::encode_reply(Result<std::string>(std::string("[1]"))) ==
        R"({"ok":true,"result":[1]})");
  CHECK(api::encode_reply(Result<std::string>(Status::forbidden("no"))) ==
        R"({"ok":false,"error":{"code":"forbidden","message":"no"}})");
  // Messages are JSON strings, whatever they hold.
  const std::string odd = api::encode_error(Status::error("a \"quote\"\n\xff"));
  CHECK(is_valid_json(odd));
  CHECK(odd == R"({"ok":false,"error":{"code":"failed","message":"a \"quote\"\n\ufffd"}})");
}

TEST_CASE("replies decode to what was encoded, for every code", "[api]") {
  for (const char* result :
       {"{}", "[]", "42", "\"text\"", "null", R"({"hub":{"pid":1},"modules":[{"name":"A"}]})"}) {
    INFO(result);
    const auto decoded = api::decode_reply(api::encode_result(result));
    REQUIRE(decoded);
    CHECK(*decoded == result);
  }
  for (const auto& [code, name] : kErrorCodes) {
    INFO(name);
    const std::string message = std::string("why: ") + name + " \"quoted\" \xc3\xa9";
    const auto decoded = api::decode_reply(api::encode_error(Status::error(code, message)));
    REQUIRE_FALSE(decoded);
    CHECK(decoded.code() == code);
    CHECK(decoded.error() == message);
  }
}

TEST_CASE("replies from elsewhere decode by their members", "[api]") {
  const auto spaced = api::decode_reply(R"( { "result" : {"a": 1} , "ok" : true } )");
  REQUIRE(spaced);
  CHECK(*spaced == R"({"a": 1})");

  const auto error = api::decode_reply(
      R"({"error": {"message": "no such instance", "code": "not_found"}, "ok": false})");
  REQUIRE_FALSE(error);
  CHECK(error.code() == Code::kNotFound);
  CHECK(error.error() == "no such instance");

  // A code this side does not know is a failure, its message kept.
  const auto newer = api::decode_reply(R"({"ok":false,"error":{"code":"busy","message":"m"}})");
  REQUIRE_FALSE(newer);
  CHECK(newer.code() == Code::kFailed);
  CHECK(newer.error() == "m");
  const auto ok_code = api::decode_reply(R"({"ok":false,"error":{"code":"ok","message":"m"}})");
  REQUIRE_FALSE(ok_code);
  CHECK(ok_code.code() == Code::kFailed);
}

TEST_CASE("what is no reply decodes as a protocol error", "[api]") {
  for (const char* bad :
       {"", "not json", "[]", "{}", R"({"ok":true})", R"({"ok":"true"})", R"({"ok":false})",
        R"({"ok":false,"error":"x"})", R"({"ok":false,"error":{"code":"failed"}})",
        R"({"ok":false,"error":{"message":"m"}})", R"({"ok":true,"result":)"}) {
    INFO(bad);
    const auto decoded = api::decode_reply(bad);
    REQUIRE_FALSE(decoded);
    CHECK(decoded.code() == Code::kProtocol);
    CHECK_THAT(decoded.error(), Catch::StartsWith("not an API reply: "));
  }
  const auto long_reply = api::decode_reply(std::string(1000, 'x'));
  CHECK(long_reply.error().size() == std::string("not an API reply: ").size() + 200);
}

TEST_CASE("the method names are the documented ones", "[api]") {
  const std::vector<std::string_view> methods(std::begin(api::kMethods), std::end(api::kMethods));
  CHECK(methods == std::vector<std::string_view>{"inspect", "reload", "start", "stop", "restart",
                                                 "port", "report", "enable", "disable", "signal",
                                                 "render"});
  CHECK(api::kMethodField == "method");
  CHECK(api::kDeadlineField == "deadline_ms");
}
