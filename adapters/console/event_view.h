// An event as the console sees it, whichever way it came (the SDK's live subscription or a
// journal replay), and its JSON for the page.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace hub::console {

struct EventView {
  std::string_view topic;
  std::string_view payload;
  std::string_view source;
  std::string_view content_type;
  uint64_t seq = 0;
  uint64_t time_ns = 0;
  bool retained = false;
};

// Payloads longer than this are cut in the page's JSON (with "truncated": true).
inline constexpr size_t kPayloadShown = 2048;

// {"seq":…,"time":"…Z","topic":…,"source":…,"content_type":…,"retained":…,
//  "payload":TEXT[,"truncated":true][,"history":true]}: the payload as text, invalid
// UTF-8 as U+FFFD.
std::string event_json(const EventView& e, bool history);

// The module of a topic: its first level.
std::string_view topic_module(std::string_view topic);

}  // namespace hub::console
