#include "bus/text.h"

#include <cstdio>
#include <ctime>

namespace hub {
namespace {

// Length of the UTF-8 sequence starting at s[i], or 0 if it is not well formed
// (overlong forms, surrogates and code points above U+10FFFF are rejected).
size_t utf8_sequence_length(std::string_view s, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = byte(i);
  if (c < 0x80) return 1;
  size_t n;
  unsigned char lo = 0x80, hi = 0xbf;
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    if (c == 0xe0) lo = 0xa0;
    if (c == 0xed) hi = 0x9f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    if (c == 0xf0) lo = 0x90;
    if (c == 0xf4) hi = 0x8f;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (size_t k = 2; k < n; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xbf) return 0;
  }
  return n;
}

// A recursive-descent JSON checker. Depth is bounded so hostile input cannot
// exhaust the stack.
class JsonChecker {
 public:
  explicit JsonChecker(std::string_view s) : s_(s) {}

  bool document() {
    skip_ws();
    if (!value(0)) return false;
    skip_ws();
    return pos_ == s_.size();
  }

 private:
  static constexpr int kMaxDepth = 256;

  bool at_end() const { return pos_ >= s_.size(); }
  char peek() const { return s_[pos_]; }

  void skip_ws() {
    while (!at_end() && (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r')) {
      ++pos_;
    }
  }

  bool literal(std::string_view word) {
    if (s_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  bool value(int depth) {
    if (at_end() || depth > kMaxDepth) return false;
    switch (peek()) {
      case '{':
        return object(depth);
      case '[':
        return array(depth);
      case '"':
        return string();
      case 't':
        return literal("true");
      case 'f':
        return literal("false");
      case 'n':
        return literal("null");
      default:
        return number();
    }
  }

  bool object(int depth) {
    ++pos_;  // '{'
    skip_ws();
    if (!at_end() && peek() == '}') return ++pos_, true;
    for (;;) {
      skip_ws();
      if (at_end() || peek() != '"' || !string()) return false;
      skip_ws();
      if (at_end() || peek() != ':') return false;
      ++pos_;
      skip_ws();
      if (!value(depth + 1)) return false;
      skip_ws();
      if (at_end()) return false;
      if (peek() == '}') return ++pos_, true;
      if (peek() != ',') return false;
      ++pos_;
    }
  }

  bool array(int depth) {
    ++pos_;  // '['
    skip_ws();
    if (!at_end() && peek() == ']') return ++pos_, true;
    for (;;) {
      skip_ws();
      if (!value(depth + 1)) return false;
      skip_ws();
      if (at_end()) return false;
      if (peek() == ']') return ++pos_, true;
      if (peek() != ',') return false;
      ++pos_;
    }
  }

  static bool is_hex(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  }

  bool string() {
    ++pos_;  // '"'
    while (!at_end()) {
      const unsigned char c = static_cast<unsigned char>(peek());
      if (c == '"') return ++pos_, true;
      if (c < 0x20) return false;
      if (c == '\\') {
        ++pos_;
        if (at_end()) return false;
        const char e = peek();
        if (e == 'u') {
          for (int k = 1; k <= 4; ++k) {
            if (pos_ + k >= s_.size() || !is_hex(s_[pos_ + k])) return false;
          }
          pos_ += 5;
          continue;
        }
        if (std::string_view("\"\\/bfnrt").find(e) == std::string_view::npos) return false;
        ++pos_;
        continue;
      }
      const size_t n = utf8_sequence_length(s_, pos_);
      if (n == 0) return false;
      pos_ += n;
    }
    return false;
  }

  bool digits() {
    const size_t start = pos_;
    while (!at_end() && peek() >= '0' && peek() <= '9') ++pos_;
    return pos_ > start;
  }

  bool number() {
    if (!at_end() && peek() == '-') ++pos_;
    if (at_end()) return false;
    if (peek() == '0') {
      ++pos_;
    } else if (!digits()) {
      return false;
    }
    if (!at_end() && peek() == '.') {
      ++pos_;
      if (!digits()) return false;
    }
    if (!at_end() && (peek() == 'e' || peek() == 'E')) {
      ++pos_;
      if (!at_end() && (peek() == '+' || peek() == '-')) ++pos_;
      if (!digits()) return false;
    }
    return true;
  }

  std::string_view s_;
  size_t pos_ = 0;
};

constexpr char kHex[] = "0123456789abcdef";

void append_hex_escape(std::string& out, const char* prefix, unsigned char c) {
  out += prefix;
  out += kHex[c >> 4];
  out += kHex[c & 0xf];
}

}  // namespace

bool is_valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const size_t n = utf8_sequence_length(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

bool is_valid_json(std::string_view s) { return JsonChecker(s).document(); }

namespace {

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

// Scans already-validated JSON: positions only ever move forward over well-formed text.
class JsonScanner {
 public:
  explicit JsonScanner(std::string_view s) : s_(s) {}

  void skip_ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r'))
      ++i_;
  }
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void take() { ++i_; }

  std::string string() {  // at '"'
    std::string out;
    ++i_;
    while (s_[i_] != '"') {
      if (s_[i_] != '\\') {
        out += s_[i_++];
        continue;
      }
      const char e = s_[++i_];
      ++i_;
      switch (e) {
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          uint32_t cp = hex4();
          if (cp >= 0xd800 && cp < 0xdc00 && s_.substr(i_, 2) == "\\u") {
            i_ += 2;
            const uint32_t low = hex4();
            cp = low >= 0xdc00 && low < 0xe000 ? 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00)
                                               : 0xfffd;
          } else if (cp >= 0xd800 && cp < 0xe000) {
            cp = 0xfffd;  // a lone surrogate
          }
          append_utf8(out, cp);
          break;
        }
        default:
          out += e;  // '"', '\\', '/'
      }
    }
    ++i_;
    return out;
  }

  // A scalar's text as written (numbers, true, false, null).
  std::string literal() {
    const size_t start = i_;
    while (i_ < s_.size() && std::string_view(",}] \t\r\n").find(s_[i_]) == std::string_view::npos)
      ++i_;
    return std::string(s_.substr(start, i_ - start));
  }

  size_t at() const { return i_; }

  void skip_container() {  // at '{' or '['
    int depth = 0;
    do {
      const char c = s_[i_];
      if (c == '"') {
        string();
        continue;
      }
      if (c == '{' || c == '[') ++depth;
      if (c == '}' || c == ']') --depth;
      ++i_;
    } while (depth > 0);
  }

 private:
  uint32_t hex4() {
    uint32_t v = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = s_[i_++];
      v = v * 16 + static_cast<uint32_t>(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
    }
    return v;
  }

  std::string_view s_;
  size_t i_ = 0;
};

}  // namespace

std::vector<std::pair<std::string, std::string>> json_top_level_scalars(std::string_view json) {
  std::vector<std::pair<std::string, std::string>> fields;
  if (!is_valid_json(json)) return fields;
  JsonScanner scan(json);
  scan.skip_ws();
  if (scan.peek() != '{') return fields;
  scan.take();
  for (;;) {
    scan.skip_ws();
    if (scan.peek() == '}') return fields;
    std::string key = scan.string();
    scan.skip_ws();
    scan.take();  // ':'
    scan.skip_ws();
    const char c = scan.peek();
    if (c == '"') {
      fields.emplace_back(std::move(key), scan.string());
    } else if (c == '{' || c == '[') {
      scan.skip_container();
    } else {
      fields.emplace_back(std::move(key), scan.literal());
    }
    scan.skip_ws();
    if (scan.peek() == ',') scan.take();
  }
}

std::optional<std::string_view> json_member(std::string_view json, std::string_view key) {
  if (!is_valid_json(json)) return std::nullopt;
  JsonScanner scan(json);
  scan.skip_ws();
  if (scan.peek() != '{') return std::nullopt;
  scan.take();
  for (;;) {
    scan.skip_ws();
    if (scan.peek() == '}') return std::nullopt;
    const std::string name = scan.string();
    scan.skip_ws();
    scan.take();  // ':'
    scan.skip_ws();
    const size_t start = scan.at();
    const char c = scan.peek();
    if (c == '"') {
      (void)scan.string();
    } else if (c == '{' || c == '[') {
      scan.skip_container();
    } else {
      (void)scan.literal();
    }
    if (name == key) return json.substr(start, scan.at() - start);
    scan.skip_ws();
    if (scan.peek() == ',') scan.take();
  }
}

std::string compact_json(std::string_view json) {
  std::string out;
  out.reserve(json.size());
  bool in_string = false;
  for (size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (in_string) {
      out += c;
      if (c == '\\') {
        out += json[++i];  // the escaped character, whatever it is
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
      out += c;
    } else if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
      out += c;
    }
  }
  return out;
}

void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      const size_t n = utf8_sequence_length(s, i);
      if (n == 0) {
        out += "\\ufffd";  // one replacement character per byte that starts no sequence
        ++i;
      } else {
        out.append(s.substr(i, n));
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          append_hex_escape(out, "\\u00", c);
        } else {
          out += static_cast<char>(c);
        }
    }
    ++i;
  }
  out += '"';
}

void append_printable(std::string& out, std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c < 0x20 || c == 0x7f) {
      append_hex_escape(out, "\\x", c);
    } else {
      const size_t n = utf8_sequence_length(s, i);
      if (n == 0) {
        append_hex_escape(out, "\\x", c);
      } else if (n == 2 && c == 0xc2 && static_cast<unsigned char>(s[i + 1]) < 0xa0) {
        // A C1 control (U+0080..U+009F): terminals act on some of them (U+009B is CSI).
        append_hex_escape(out, "\\u00", static_cast<unsigned char>(s[i + 1]));
        i += n;
        continue;
      } else {
        out.append(s.substr(i, n));
        i += n;
        continue;
      }
    }
    ++i;
  }
}

void append_base64(std::string& out, std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t i = 0;
  const auto at = [&](size_t k) { return static_cast<uint32_t>(static_cast<uint8_t>(bytes[k])); };
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t v = at(i) << 16 | at(i + 1) << 8 | at(i + 2);
    for (int shift = 18; shift >= 0; shift -= 6) out += kAlphabet[(v >> shift) & 0x3f];
  }
  const size_t rest = bytes.size() - i;
  if (rest == 0) return;
  const uint32_t v = at(i) << 16 | (rest == 2 ? at(i + 1) << 8 : 0);
  out += kAlphabet[(v >> 18) & 0x3f];
  out += kAlphabet[(v >> 12) & 0x3f];
  out += rest == 2 ? kAlphabet[(v >> 6) & 0x3f] : '=';
  out += '=';
}

void JsonObject::key(std::string_view k) {
  if (body_.size() > 1) body_ += ',';
  append_json_string(body_, k);
  body_ += ':';
}

JsonObject& JsonObject::add(std::string_view k, std::string_view value) {
  key(k);
  append_json_string(body_, value);
  return *this;
}

JsonObject& JsonObject::add(std::string_view k, int64_t value) {
  key(k);
  body_ += std::to_string(value);
  return *this;
}

JsonObject& JsonObject::add(std::string_view k, bool value) {
  key(k);
  body_ += value ? "true" : "false";
  return *this;
}

JsonObject& JsonObject::add_raw(std::string_view k, std::string_view json) {
  key(k);
  body_ += json;
  return *this;
}

std::string json_string_array(const std::vector<std::string>& items) {
  std::string out = "[";
  for (const auto& item : items) {
    if (out.size() > 1) out += ',';
    append_json_string(out, item);
  }
  return out + "]";
}

std::string format_utc_time(uint64_t time_ns) {
  const time_t seconds = static_cast<time_t>(time_ns / 1'000'000'000);
  const unsigned micros = static_cast<unsigned>((time_ns % 1'000'000'000) / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[64];
  const size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out(buf, n);
  char frac[16];
  std::snprintf(frac, sizeof frac, ".%06uZ", micros);
  out += frac;
  return out;
}

}  // namespace hub
