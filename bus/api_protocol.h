// The Hub API's words on the wire (docs/API.md), in one place for hubd's server and
// handler and for its clients (the SDK, hubctl): the method names, the reply envelope and
// the error codes as they are spelled. Pure functions, thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "bus/status.h"

namespace hub::api {

// Methods (docs/API.md, "Methods").
inline constexpr std::string_view kInspect = "inspect";
inline constexpr std::string_view kReload = "reload";
inline constexpr std::string_view kStart = "start";
inline constexpr std::string_view kStop = "stop";
inline constexpr std::string_view kRestart = "restart";
inline constexpr std::string_view kPort = "port";
inline constexpr std::string_view kReport = "report";
inline constexpr std::string_view kEnable = "enable";
inline constexpr std::string_view kDisable = "disable";
inline constexpr std::string_view kSignal = "signal";
inline constexpr std::string_view kRender = "render";
inline constexpr std::string_view kMethods[] = {kInspect, kReload, kStart,  kStop,
                                                kRestart, kPort,   kReport, kEnable,
                                                kDisable, kSignal, kRender};

// Request members: every request has "method", and may have "deadline_ms" (the Unix time
// in milliseconds after which its caller no longer waits).
inline constexpr std::string_view kMethodField = "method";
inline constexpr std::string_view kDeadlineField = "deadline_ms";

// The code as the API spells it: "bad_request", "not_found", "forbidden", "timeout",
// "unknown_method", "failed"; the client's own "unreachable" and "protocol"; "ok".
std::string_view code_name(Status::Code code);
// The code `name` spells; nullopt for a name code_name never gives.
std::optional<Status::Code> code_named(std::string_view name);

// {"ok":true,"result":RESULT}. REQUIRES: result_json is one JSON value.
std::string encode_result(std::string_view result_json);
// {"ok":false,"error":{"code":CODE,"message":MESSAGE}}. REQUIRES: !error.is_ok()
std::string encode_error(const Status& error);
// The reply for a handler's outcome: its result, or its error.
std::string encode_reply(const Result<std::string>& outcome);

// A reply's result (JSON text), or its error: the code it names (kFailed for a code this
// side does not know) and its message. kProtocol when `reply` is no API reply.
Result<std::string> decode_reply(std::string_view reply);

}  // namespace hub::api
