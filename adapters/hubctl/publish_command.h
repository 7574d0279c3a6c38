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
  std::vector<std::string> payloads;  // one event each
  // -l: one event per non-blank line of stdin, each published as it is read (a line at
  // a time, as mosquitto_pub -l: `tail -f LOG | hubctl publish -t T -l` works).
  bool lines_from_stdin = false;
  std::optional<std::string> content_type;
  bool retain = false;
};

// The events `args` ask for, reading stdin (-s, '-') or a file (-f) as told (-l's lines
// are left on stdin for publish to read one at a time); nullopt
// with `error` set when the line is wrong or the file unreadable (`unreadable` then).
std::optional<PublishLine> parse_publish(const std::vector<std::string>& args, std::string& error,
                                         bool& unreadable);

// The content type `payload` gets without --content-type.
std::string content_type_of(std::string_view payload);

int publish(Hub& hub, const std::vector<std::string>& args);

}  // namespace hub::ctl
