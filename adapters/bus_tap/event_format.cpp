#include "bus_tap/event_format.h"

#include <cctype>
#include <ctime>

#include "bus/text.h"

namespace hub {
namespace {

constexpr std::string_view kFieldLetters = "tpxXlrCIUjJsS%";
constexpr std::string_view kEscapeLetters = "ntraev0\\";

void append_hex(std::string& out, std::string_view bytes, bool upper) {
  const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
}

// strftime's `letter` on the event's time, UTC.
std::string strftime_of(char letter, uint64_t time_ns) {
  const std::time_t seconds = static_cast<std::time_t>(time_ns / 1000000000ULL);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  const char pattern[] = {'%', letter, '\0'};
  char out[128];
  const size_t n = std::strftime(out, sizeof out, pattern, &utc);
  return std::string(out, n);
}

char escaped(char letter) {
  switch (letter) {
    case 'n':
      return '\n';
    case 't':
      return '\t';
    case 'r':
      return '\r';
    case 'a':
      return '\a';
    case 'e':
      return '\x1b';
    case 'v':
      return '\v';
    case '0':
      return '\0';
    default:
      return letter;  // '\\'
  }
}

}  // namespace

std::string format_event_line(const Event& event) {
  std::string line = std::to_string(event.seq);
  line += ' ';
  line += format_utc_time(event.time_ns);
  line += ' ';
  append_printable(line, event.source);
  line += ' ';
  append_printable(line, event.topic());
  line += ' ';
  append_printable(line, event.payload());
  return line;
}

std::string format_event_json(const Event& event, bool embed_json) {
  JsonObject json;
  json.add("seq", static_cast<int64_t>(event.seq))
      .add("time", format_utc_time(event.time_ns))
      .add("time_ns", static_cast<int64_t>(event.time_ns))
      .add("source", event.source)
      .add("topic", event.topic())
      .add("content_type", event.content_type)
      .add("retained", event.retained());
  const std::string_view payload = event.payload();
  if (embed_json && !payload.empty() && is_valid_json(payload)) {
    json.add_raw("payload", compact_json(payload));
  } else if (is_valid_utf8(payload)) {
    json.add("payload", payload);
  } else {
    std::string encoded;
    append_base64(encoded, payload);
    json.add("payload_base64", encoded);
  }
  return json.str();
}

std::string pretty_json(std::string_view json) {
  std::string out;
  int depth = 0;
  bool in_string = false;
  const auto newline = [&] { out += '\n' + std::string(static_cast<size_t>(depth) * 2, ' '); };
  for (size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (in_string) {
      out += c;
      if (c == '\\' && i + 1 < json.size()) {
        out += json[++i];
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        out += c;
        break;
      case '{':
      case '[':
        out += c;
        if (i + 1 < json.size() && (json[i + 1] == '}' || json[i + 1] == ']')) {
          out += json[++i];  // {} and [] stay as they are
          break;
        }
        ++depth;
        newline();
        break;
      case '}':
      case ']':
        --depth;
        newline();
        out += c;
        break;
      case ',':
        out += c;
        newline();
        break;
      case ':':
        out += ": ";
        break;
      case ' ':
      case '\n':
      case '\t':
      case '\r':
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::optional<std::string> event_format_problem(std::string_view format) {
  for (size_t i = 0; i < format.size(); ++i) {
    const char c = format[i];
    if (c != '%' && c != '\\' && c != '@') continue;
    if (i + 1 == format.size()) {
      return "the format ends with '" + std::string(1, c) + "' (" +
             (c == '%'   ? "%% for a percent sign"
              : c == '@' ? "@@ for an at sign"
                         : "\\\\ for a "
                           "backslash") +
             ")";
    }
    const char next = format[++i];
    if (c == '%' && kFieldLetters.find(next) == std::string_view::npos) {
      return "unknown field %" + std::string(1, next) +
             " (expected one of %t %p %x %X %l %r %C %I %U %j %J %s %S %%)";
    }
    if (c == '\\' && kEscapeLetters.find(next) == std::string_view::npos) {
      return "unknown escape \\" + std::string(1, next) +
             " (expected \\n \\t \\r \\a \\e \\v \\0 or \\\\)";
    }
    if (c == '@' && next != '@' && !std::isalpha(static_cast<unsigned char>(next))) {
      return "'@" + std::string(1, next) + "' is no strftime field (expected @ and a letter)";
    }
  }
  return std::nullopt;
}

std::string format_event(std::string_view format, const Event& event, bool pretty) {
  std::string out;
  const std::string_view payload = event.payload();
  for (size_t i = 0; i < format.size(); ++i) {
    const char c = format[i];
    if ((c != '%' && c != '\\' && c != '@') || i + 1 == format.size()) {
      out += c;
      continue;
    }
    const char next = format[++i];
    if (c == '\\') {
      out += escaped(next);
    } else if (c == '@') {
      out += next == '@' ? "@" : strftime_of(next, event.time_ns);
    } else {
      switch (next) {
        case 't':
          out += event.topic();
          break;
        case 'p':
          out += payload;
          break;
        case 'x':
        case 'X':
          append_hex(out, payload, next == 'X');
          break;
        case 'l':
          out += std::to_string(payload.size());
          break;
        case 'r':
          out += event.retained() ? '1' : '0';
          break;
        case 'C':
          out += event.content_type;
          break;
        case 'I':
          out += format_utc_time(event.time_ns);
          break;
        case 'U': {
          std::string ns = std::to_string(event.time_ns % 1000000000ULL);
          out += std::to_string(event.time_ns / 1000000000ULL) + "." +
                 std::string(9 - ns.size(), '0') + ns;
          break;
        }
        case 'j':
        case 'J': {
          const std::string json = format_event_json(event, next == 'J');
          out += pretty ? pretty_json(json) : json;
          break;
        }
        case 's':
          out += std::to_string(event.seq);
          break;
        case 'S':
          out += event.source;
          break;
        default:  // '%'
          out += next;
      }
    }
  }
  return out;
}

}  // namespace hub
