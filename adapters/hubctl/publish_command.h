// hubctl publish: mosquitto_pub's spellings (-t -m -r -n -s -l -f) besides the positional
// TOPIC [PAYLOAD|-]. The content type is never guessed beyond what the payload shows:
// application/json when it parses as JSON, text/plain when it is other UTF-8 text,
// application/octet-stream otherwise; --content-type says it outright.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "hubctl/hub_session.h"

namespace hub::ctl {

struct PublishLine {
  std::string topic;
  std::vector<std::string> payloads;  // one event each (-l: one per line of stdin)
  std::optional<std::string> content_type;
  bool retain = false;
};

// The events `args` ask for, reading stdin (-s, -l, '-') or a file (-f) as told; nullopt
// with `error` set when the line is wrong or the file unreadable (`unreadable` then).
std::optional<PublishLine> parse_publish(const std::vector<std::string>& args, std::string& error,
                                         bool& unreadable);

// The content type `payload` gets without --content-type.
std::string content_type_of(std::string_view payload);

int publish(Hub& hub, const std::vector<std::string>& args);

}  // namespace hub::ctl
