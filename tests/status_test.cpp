// bus/status.h first and alone: it is installed with the SDK and must stand on its own.
#include "bus/status.h"

#include <catch2/catch.hpp>

using namespace hub;
using Code = Status::Code;

TEST_CASE("a status says whether it failed and how", "[status]") {
  const Status ok = Status::ok();
  CHECK(ok.is_ok());
  CHECK(static_cast<bool>(ok));
  CHECK(ok.code() == Code::kOk);

  const Status plain = Status::error("disk full");
  CHECK_FALSE(plain.is_ok());
  CHECK_FALSE(static_cast<bool>(plain));
  CHECK(plain.code() == Code::kFailed);
  CHECK(plain.message() == "disk full");

  CHECK(Status::error("").code() == Code::kFailed);  // a failure even without words
  CHECK_FALSE(Status::error("").is_ok());

  const std::pair<Status, Code> made[] = {
      {Status::bad_request("b"), Code::kBadRequest},
      {Status::not_found("n"), Code::kNotFound},
      {Status::forbidden("f"), Code::kForbidden},
      {Status::timeout("t"), Code::kTimeout},
      {Status::error(Code::kUnknownMethod, "u"), Code::kUnknownMethod},
      {Status::error(Code::kUnreachable, "r"), Code::kUnreachable},
      {Status::error(Code::kProtocol, "p"), Code::kProtocol},
      {Status::error(Code::kFailed, "x"), Code::kFailed},
  };
  for (const auto& [status, code] : made) {
    INFO(status.message());
    CHECK_FALSE(status.is_ok());
    CHECK(status.code() == code);
    CHECK(status.message().size() == 1);
  }
}

TEST_CASE("a result is a value or a status with its code", "[status]") {
  const Result<int> value = 7;
  REQUIRE(value);
  CHECK(*value == 7);
  CHECK(value.code() == Code::kOk);
  CHECK(value.status().is_ok());

  const Result<int> missing = Status::not_found("no module Nope");
  REQUIRE_FALSE(missing);
  CHECK(missing.code() == Code::kNotFound);
  CHECK(missing.status().code() == Code::kNotFound);
  CHECK(missing.error() == "no module Nope");

  // A status passes through a Result of another type unchanged.
  const Result<std::string> passed = missing.status();
  CHECK(passed.code() == Code::kNotFound);
  CHECK(passed.error() == "no module Nope");
}
