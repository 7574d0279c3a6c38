#include "core/modules/module_info.h"

#include <cctype>

namespace hub {
namespace {

std::string_view trim(std::string_view s) {
  const auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && blank(s.back())) s.remove_suffix(1);
  return s;
}

// Parses up to three dot-separated numbers; returns how many, or -1 when malformed.
int parse_numbers(std::string_view s, unsigned out[3]) {
  int count = 0;
  size_t i = 0;
  for (;;) {
    if (count == 3) return -1;
    size_t digits = 0;
    unsigned value = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      if (++digits > 9) return -1;
      value = value * 10 + static_cast<unsigned>(s[i] - '0');
      ++i;
    }
    if (digits == 0) return -1;
    out[count++] = value;
    if (i == s.size()) return count;
    if (s[i] != '.') return -1;
    ++i;
  }
}

// `s` in quotes, every byte that is not printable ASCII written as \xNN, so nothing in a
// message is invisible (a stray byte-order mark, a control character).
std::string quoted(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out = "'";
  for (char c : s) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (byte < 0x20 || byte >= 0x7f) {
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    } else {
      out += c;
    }
  }
  return out + "'";
}

}  // namespace

std::string Version::str() const {
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(release);
}

Result<Version> parse_version(std::string_view text) {
  const std::string_view s = trim(text);
  unsigned n[3] = {};
  if (s.empty())
    return Status::error("expected MAJOR.MINOR.RELEASE (e.g. 4.14.2), the file is empty");
  if (parse_numbers(s, n) != 3) {
    return Status::error("expected MAJOR.MINOR.RELEASE (e.g. 4.14.2), got " + quoted(s));
  }
  return Version{n[0], n[1], n[2]};
}

bool Dependency::accepts(const Version& v) const {
  if (parts >= 1 && v.major != version.major) return false;
  if (parts >= 2 && v.minor != version.minor) return false;
  if (parts >= 3 && v.release != version.release) return false;
  return true;
}

std::string Dependency::requirement() const {
  std::string out = name;
  if (parts >= 1) out += ":" + std::to_string(version.major);
  if (parts >= 2) out += "." + std::to_string(version.minor);
  if (parts >= 3) out += "." + std::to_string(version.release);
  return out;
}

Result<std::vector<Dependency>> parse_depends(std::string_view text, DependsProblem* problem) {
  std::vector<Dependency> deps;
  int line_no = 0;
  while (!text.empty()) {
    ++line_no;
    const size_t end = text.find('\n');
    const std::string_view raw = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    const std::string_view line = trim(raw);
    if (line.empty() || line.front() == '#') continue;

    const auto fail = [&](const std::string& why) -> Result<std::vector<Dependency>> {
      problem->line = line_no;
      problem->message =
          "expected Name, Name:MAJOR, Name:MAJOR.MINOR or Name:MAJOR.MINOR.RELEASE, got " +
          quoted(line) + (why.empty() ? "" : " (" + why + ")");
      return Status::error(problem->message);
    };
    const size_t colon = line.find(':');
    Dependency dep;
    dep.line = line_no;
    dep.name = std::string(line.substr(0, colon));
    if (auto bad = module_name_problem(dep.name)) return fail(*bad);
    if (colon != std::string_view::npos) {
      unsigned n[3] = {};
      dep.parts = parse_numbers(line.substr(colon + 1), n);
      if (dep.parts < 1) return fail("the version must be 1 to 3 dot-separated numbers");
      dep.version = Version{n[0], n[1], n[2]};
    }
    for (const auto& earlier : deps) {
      if (earlier.name == dep.name) {
        problem->line = line_no;
        problem->message = dep.name + " is listed twice (lines " + std::to_string(earlier.line) +
                           " and " + std::to_string(line_no) + "): keep one line per dependency";
        return Status::error(problem->message);
      }
    }
    deps.push_back(std::move(dep));
  }
  return deps;
}

std::optional<std::string> module_name_problem(std::string_view name) {
  if (name.empty()) return "the module name is empty";
  if (name.size() > 64) return "the module name is longer than 64 characters";
  if (!std::isalpha(static_cast<unsigned char>(name.front()))) {
    return "a module name starts with a letter";
  }
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') {
      return "a module name has only letters, digits, '_' and '-'";
    }
  }
  if (name == "Hub") return "'Hub' is reserved for the hub itself";
  if (name == "admin") return "'admin' is reserved for the administrator's identity";
  return std::nullopt;
}

}  // namespace hub
