#include "hubctl/log_time.h"

#include <cctype>
#include <string>

namespace hub::ctl {
namespace {

constexpr int64_t kDay = 86400;

// Days since 1970-01-01 of a civil date (Howard Hinnant's days_from_civil).
int64_t days_from_civil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

// `count` digits at `at` of `s`, or -1.
int64_t digits(std::string_view s, size_t at, size_t count) {
  if (s.size() < at + count) return -1;
  int64_t value = 0;
  for (size_t i = at; i < at + count; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return -1;
    value = value * 10 + (s[i] - '0');
  }
  return value;
}

// A date and time at the start of `s`: YYYY-MM-DD, then optionally [T ]HH:MM[:SS[.frac]];
// `used` is how many characters it took.
std::optional<int64_t> leading_time(std::string_view s, size_t& used) {
  const int64_t y = digits(s, 0, 4), mo = digits(s, 5, 2), d = digits(s, 8, 2);
  if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || s[4] != '-' || s[7] != '-')
    return std::nullopt;
  int64_t seconds = days_from_civil(y, mo, d) * kDay;
  used = 10;
  if (s.size() > 10 && (s[10] == 'T' || s[10] == ' ')) {
    const int64_t h = digits(s, 11, 2), mi = digits(s, 14, 2);
    if (h >= 0 && h < 24 && mi >= 0 && mi < 60 && s[13] == ':') {
      seconds += h * 3600 + mi * 60;
      used = 16;
      if (s.size() > 16 && s[16] == ':') {
        const int64_t sec = digits(s, 17, 2);
        if (sec < 0 || sec > 60) return std::nullopt;
        seconds += sec;
        used = 19;
        if (s.size() > used && s[used] == '.') {
          ++used;
          while (used < s.size() && std::isdigit(static_cast<unsigned char>(s[used]))) ++used;
        }
      }
    }
  }
  if (s.size() > used && s[used] == 'Z') ++used;
  return seconds;
}

std::optional<int64_t> unit_seconds(std::string_view unit) {
  for (auto [names, seconds] : {std::pair{"s sec secs second seconds", int64_t{1}},
                                {"m min mins minute minutes", int64_t{60}},
                                {"h hour hours", int64_t{3600}},
                                {"d day days", kDay},
                                {"w week weeks", 7 * kDay}}) {
    const std::string padded = std::string(" ") + names + " ";
    if (!unit.empty() && padded.find(" " + std::string(unit) + " ") != std::string::npos)
      return seconds;
  }
  return std::nullopt;
}

// "10m", "10 m", "2 hours" -> seconds.
std::optional<int64_t> span(std::string_view s) {
  size_t i = 0;
  int64_t n = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])) && i < 9)
    n = n * 10 + (s[i++] - '0');
  if (i == 0) return std::nullopt;
  while (i < s.size() && s[i] == ' ') ++i;
  const auto unit = unit_seconds(s.substr(i));
  if (!unit) return std::nullopt;
  return n * *unit;
}

}  // namespace

std::optional<int64_t> parse_since(std::string_view text, int64_t now) {
  const int64_t midnight = now - ((now % kDay) + kDay) % kDay;
  if (text == "now") return now;
  if (text == "today") return midnight;
  if (text == "yesterday") return midnight - kDay;
  if (!text.empty() && text[0] == '-') {
    const auto s = span(text.substr(1));
    return s ? std::optional(now - *s) : std::nullopt;
  }
  constexpr std::string_view kAgo = " ago";
  if (text.size() > kAgo.size() && text.substr(text.size() - kAgo.size()) == kAgo) {
    const auto s = span(text.substr(0, text.size() - kAgo.size()));
    return s ? std::optional(now - *s) : std::nullopt;
  }
  // A time of day alone: today's (journalctl's "09:00").
  const int64_t h = digits(text, 0, 2), mi = digits(text, 3, 2);
  if ((text.size() == 5 || (text.size() == 8 && text[5] == ':')) && text[2] == ':' && h >= 0 &&
      h < 24 && mi >= 0 && mi < 60) {
    const int64_t sec = text.size() == 8 ? digits(text, 6, 2) : 0;
    if (sec < 0 || sec > 60) return std::nullopt;
    return midnight + h * 3600 + mi * 60 + sec;
  }
  size_t used = 0;
  const auto at = leading_time(text, used);
  if (!at || used != text.size()) return std::nullopt;
  return at;
}

std::optional<int64_t> line_time_ns(std::string_view line) {
  const auto at = line_time(line);
  if (!at) return std::nullopt;
  int64_t ns = 0;
  if (line.size() > 19 && line[16] == ':' && line[19] == '.') {
    int64_t scale = 100000000;
    for (size_t i = 20; i < line.size() && scale > 0; ++i, scale /= 10) {
      if (!std::isdigit(static_cast<unsigned char>(line[i]))) break;
      ns += (line[i] - '0') * scale;
    }
  }
  return *at * 1000000000 + ns;
}

std::optional<int64_t> line_time(std::string_view line) {
  size_t used = 0;
  const auto at = leading_time(line, used);
  if (!at || used < 16) return std::nullopt;  // a date alone is no stamp
  return at;
}

}  // namespace hub::ctl
