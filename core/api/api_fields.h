// The fields each API method takes (docs/API.md, "Methods") and their JSON types, checked
// before a request is carried out. A request with a field of the wrong type, or a field
// its method does not take, is a bad_request whose message names the field. Pure,
// thread-safe.
#pragma once

#include <string_view>

#include <yaml-cpp/yaml.h>

#include "bus/status.h"

namespace hub {

// Checks `body` (a request as parse_api_request reads it: JSON scalars as YAML scalars,
// strings quoted) against the fields of `method`. Every request may carry "method" (a
// string) and "deadline_ms" (a whole number). A method this table does not know is only
// checked for those two; answering it is the dispatcher's affair.
Status check_api_fields(std::string_view method, const YAML::Node& body);

}  // namespace hub
