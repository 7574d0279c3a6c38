// Numbers as the bus's sockets write them in frames: decimal text (docs/PROTOCOL.md).
// Pure, thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace hub {

// The value of `text` when it is a number as the bus writes one: ASCII digits only, no
// sign, no spaces, no leading zero (but "0"), no more than fits in 64 bits. Otherwise
// nullopt (strtoull would take " 5", "+5" and "-1", and saturate a huge one silently).
std::optional<uint64_t> parse_decimal(std::string_view text);

}  // namespace hub
