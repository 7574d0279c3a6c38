// Small text helpers shared by the bus and its clients: UTF-8 and JSON checks, JSON
// string escaping, printable rendering of opaque bytes. Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hub {

bool is_valid_utf8(std::string_view s);

// True when `s` is exactly one JSON value (RFC 8259), surrounding whitespace allowed.
bool is_valid_json(std::string_view s);

// The top-level members of a JSON object whose values are scalars: strings (decoded),
// numbers (as written), true, false, null. Nested objects and arrays are left out.
// Empty when `json` is not a valid JSON object.
std::vector<std::pair<std::string, std::string>> json_top_level_scalars(std::string_view json);

// The value of top-level member `key` of JSON object `json`, as written (a string with its
// quotes and escapes). nullopt when `json` is not a valid JSON object or has no such member.
std::optional<std::string_view> json_member(std::string_view json, std::string_view key);

// `json` without the whitespace between tokens, so it fits on one line.
// REQUIRES: is_valid_json(json).
std::string compact_json(std::string_view json);

// Appends `s` as a quoted JSON string, always valid UTF-8 (RFC 8259): control characters
// are escaped, and every byte that does not start a well-formed UTF-8 sequence (a stray
// continuation byte, an overlong form, a surrogate, a truncated sequence) becomes \ufffd.
void append_json_string(std::string& out, std::string_view s);

// Appends `s` so that it stays on one terminal line and cannot drive the terminal: valid
// UTF-8 is kept, control characters become \n, \t, \r or \xNN (ESC is \x1b), C1 controls
// (U+0080..U+009F) \u00NN, backslash becomes \\, invalid bytes \xNN. For untrusted text
// on a terminal or in a log.
void append_printable(std::string& out, std::string_view s);

// Appends standard base64 (RFC 4648, with padding).
void append_base64(std::string& out, std::string_view bytes);

// Builds a flat JSON object: JsonObject().add("pid", 42).add("root", "/srv").str()
// gives {"pid":42,"root":"/srv"}. Keys and string values are encoded as
// append_json_string does (invalid UTF-8 becomes \ufffd).
class JsonObject {
 public:
  JsonObject& add(std::string_view key, std::string_view value);
  JsonObject& add(std::string_view key, const char* value) {
    return add(key, std::string_view(value));
  }
  JsonObject& add(std::string_view key, int64_t value);
  JsonObject& add(std::string_view key, bool value);
  // Adds already-encoded JSON as the value. REQUIRES: is_valid_json(json).
  JsonObject& add_raw(std::string_view key, std::string_view json);
  std::string str() const { return body_ + "}"; }

 private:
  void key(std::string_view k);
  std::string body_ = "{";
};

// ["a","b"]: a JSON array of strings, each encoded as append_json_string does.
std::string json_string_array(const std::vector<std::string>& items);

// "2026-11-21T07:18:00.123456Z" for nanoseconds since the Unix epoch.
std::string format_utc_time(uint64_t time_ns);

}  // namespace hub
