#include "bus/api_protocol.h"

#include "bus/text.h"

namespace hub::api {
namespace {

using Code = Status::Code;

constexpr std::pair<Code, std::string_view> kCodeNames[] = {
    {Code::kOk, "ok"},
    {Code::kFailed, "failed"},
    {Code::kBadRequest, "bad_request"},
    {Code::kUnknownMethod, "unknown_method"},
    {Code::kNotFound, "not_found"},
    {Code::kForbidden, "forbidden"},
    {Code::kTimeout, "timeout"},
    {Code::kUnreachable, "unreachable"},
    {Code::kProtocol, "protocol"},
};

constexpr std::string_view kResultPrefix = R"({"ok":true,"result":)";

}  // namespace

std::string_view code_name(Code code) {
  for (const auto& [c, name] : kCodeNames) {
    if (c == code) return name;
  }
  return "failed";
}

std::optional<Code> code_named(std::string_view name) {
  for (const auto& [code, n] : kCodeNames) {
    if (n == name) return code;
  }
  return std::nullopt;
}

std::string encode_result(std::string_view result_json) {
  std::string out(kResultPrefix);
  out.append(result_json);
  return out + "}";
}

std::string encode_error(const Status& error) {
  return R"({"ok":false,"error":)" +
         JsonObject().add("code", code_name(error.code())).add("message", error.message()).str() +
         "}";
}

std::string encode_reply(const Result<std::string>& outcome) {
  return outcome ? encode_result(*outcome) : encode_error(outcome.status());
}

Result<std::string> decode_reply(std::string_view reply) {
  // A result as encode_result writes it is taken as it is, unparsed (it may be large).
  if (reply.substr(0, kResultPrefix.size()) == kResultPrefix && !reply.empty() &&
      reply.back() == '}') {
    return std::string(reply.substr(kResultPrefix.size(), reply.size() - kResultPrefix.size() - 1));
  }
  const auto ok = json_member(reply, "ok");
  if (ok == "true") {
    if (const auto result = json_member(reply, "result")) return std::string(*result);
  } else if (ok == "false") {
    std::optional<std::string> code, message;
    for (auto& [key, value] : json_top_level_scalars(json_member(reply, "error").value_or(""))) {
      if (key == "code") code = std::move(value);
      if (key == "message") message = std::move(value);
    }
    if (code && message) {
      const Code named = code_named(*code).value_or(Code::kFailed);
      return Status::error(named == Code::kOk ? Code::kFailed : named, *message);
    }
  }
  return Status::error(Code::kProtocol, "not an API reply: " + std::string(reply.substr(0, 200)));
}

}  // namespace hub::api
