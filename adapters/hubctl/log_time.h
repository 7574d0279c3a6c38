// Times for `hubctl logs --since`, the way journalctl takes them, and the time a log line
// is stamped with. Every time is UTC, as hubd writes its logs. Pure, thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace hub::ctl {

// Seconds since the Unix epoch for `text`, `now` being the present:
//   "2026-12-08T02:30:00Z", "2026-12-08 02:30:00", "2026-12-08 02:30", "2026-12-08"
//   (UTC; a trailing Z and fractions of a second are allowed), "02:30" and "02:30:00"
//   (today, as journalctl), "now", "today",
//   "yesterday", "-30s" / "-10m" / "-2h" / "-1d", and "10m ago" / "2 hours ago".
// nullopt for anything else.
std::optional<int64_t> parse_since(std::string_view text, int64_t now);

// The time a line starts with ("2026-12-08T02:30:00.123456Z ..." as script logs and
// format_utc_time write it, or "2026-12-08 02:30:00"), in seconds; nullopt when it starts
// with none.
std::optional<int64_t> line_time(std::string_view line);
// The same in nanoseconds, with the fraction of a second the line gives.
std::optional<int64_t> line_time_ns(std::string_view line);

}  // namespace hub::ctl
