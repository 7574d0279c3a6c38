#include "core/config/yaml_reader.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdlib>

#include "bus/small_file.h"

namespace hub {
namespace {

std::string describe(const YAML::Node& node) {
  if (node.IsScalar()) return "'" + node.Scalar() + "'";
  if (node.IsSequence()) return "a list";
  if (node.IsMap()) return "a map";
  return "nothing";
}

// Splits "64KiB" into 64 and "KiB"; false when there is no leading number.
bool split_number(const std::string& text, uint64_t& number, std::string& unit) {
  size_t i = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
  if (i == 0 || i > 18) return false;
  number = std::strtoull(text.substr(0, i).c_str(), nullptr, 10);
  unit = text.substr(i);
  while (!unit.empty() && unit.front() == ' ') unit.erase(0, 1);
  return true;
}

}  // namespace

std::string join_key(std::string_view path, std::string_view key) {
  return path.empty() ? std::string(key) : std::string(path) + "." + std::string(key);
}

YAML::Node YamlReader::load_file(const std::string& path, const YamlLimits& limits) {
  auto text = read_small_file(path, limits.max_bytes);
  if (!text) {
    problems_.push_back(text.error());
    return YAML::Node();
  }
  auto node = parse_yaml(*text, file_, limits);
  if (!node) {
    add_problems(node.error());
    return YAML::Node();
  }
  return *node;
}

void YamlReader::add_problems(const std::string& lines) {
  for (size_t start = 0; start <= lines.size();) {
    const size_t end = std::min(lines.find('\n', start), lines.size());
    problems_.push_back(lines.substr(start, end - start));
    start = end + 1;
  }
}

void YamlReader::problem(const YAML::Node& at, std::string_view path, const std::string& what) {
  std::string where = file_;
  const YAML::Mark mark = at.Mark();
  if (!mark.is_null()) {
    where += ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
  }
  problems_.push_back(where + ": " + (path.empty() ? "" : std::string(path) + ": ") + what);
}

bool YamlReader::expect_map(const YAML::Node& node, std::string_view path,
                            std::initializer_list<std::string_view> known) {
  if (!node.IsMap()) {
    problem(node, path, "expected a map, got " + describe(node));
    return false;
  }
  for (const auto& entry : node) {
    const std::string key = entry.first.IsScalar() ? entry.first.Scalar() : describe(entry.first);
    bool found = false;
    std::string names;
    for (std::string_view k : known) {
      found = found || k == key;
      names += (names.empty() ? "" : ", ") + std::string(k);
    }
    if (!found)
      problem(entry.first, join_key(path, key), "unknown key (expected one of: " + names + ")");
  }
  return true;
}

void YamlReader::read(const YAML::Node& map, std::string_view path, const char* key, int64_t& out,
                      int64_t min, int64_t max) {
  const YAML::Node node = map[key];
  if (!node) return;
  const std::string name = join_key(path, key);
  const std::string range = " from " + std::to_string(min) + " to " + std::to_string(max);
  int64_t value = 0;
  if (!node.IsScalar() || !YAML::convert<int64_t>::decode(node, value)) {
    return problem(node, name, "expected an integer" + range + ", got " + describe(node));
  }
  if (value < min || value > max) {
    return problem(node, name, "expected an integer" + range + ", got " + std::to_string(value));
  }
  out = value;
}

void YamlReader::read(const YAML::Node& map, std::string_view path, const char* key,
                      std::string& out) {
  const YAML::Node node = map[key];
  if (!node) return;
  if (!node.IsScalar())
    return problem(node, join_key(path, key), "expected a string, got " + describe(node));
  if (free_of_nul(node, join_key(path, key))) out = node.Scalar();
}

bool YamlReader::free_of_nul(const YAML::Node& scalar, std::string_view path) {
  if (scalar.Scalar().find('\0') == std::string::npos) return true;
  problem(scalar, path,
          "holds a NUL character (\\0), which would silently cut it short where it is "
          "used (a program, its arguments and environment, a path)");
  return false;
}

void YamlReader::read(const YAML::Node& map, std::string_view path, const char* key, bool& out) {
  const YAML::Node node = map[key];
  if (!node) return;
  bool value = false;
  if (!node.IsScalar() || !YAML::convert<bool>::decode(node, value)) {
    return problem(node, join_key(path, key), "expected true or false, got " + describe(node));
  }
  out = value;
}

void YamlReader::read(const YAML::Node& map, std::string_view path, const char* key,
                      std::vector<std::string>& out) {
  const YAML::Node node = map[key];
  if (!node) return;
  const std::string name = join_key(path, key);
  if (!node.IsSequence())
    return problem(node, name, "expected a list of strings, got " + describe(node));
  std::vector<std::string> values;
  for (size_t i = 0; i < node.size(); ++i) {
    if (!node[i].IsScalar()) {
      return problem(node[i], name + "[" + std::to_string(i) + "]",
                     "expected a string, got " + describe(node[i]));
    }
    if (!free_of_nul(node[i], name + "[" + std::to_string(i) + "]")) return;
    values.push_back(node[i].Scalar());
  }
  out = std::move(values);
}

bool YamlReader::read_scaled(const YAML::Node& map, std::string_view path, const char* key,
                             const std::string& expected,
                             std::initializer_list<std::pair<std::string_view, uint64_t>> units,
                             uint64_t& out) {
  const YAML::Node node = map[key];
  if (!node) return false;
  uint64_t n = 0;
  std::string unit;
  if (node.IsScalar() && split_number(node.Scalar(), n, unit)) {
    for (const auto& [name, scale] : units) {
      if (name == unit) {
        if (n > UINT64_MAX / scale) break;  // would wrap around
        out = n * scale;
        return true;
      }
    }
  }
  problem(node, join_key(path, key), "expected " + expected + ", got " + describe(node));
  return false;
}

void YamlReader::read_duration(const YAML::Node& map, std::string_view path, const char* key,
                               std::chrono::milliseconds& out, std::chrono::milliseconds min,
                               std::chrono::milliseconds max) {
  uint64_t ms = 0;
  if (!read_scaled(map, path, key, "a duration such as 500ms, 5s, 2m or 1h",
                   {{"ms", 1}, {"s", 1000}, {"", 1000}, {"m", 60'000}, {"h", 3'600'000}}, ms)) {
    return;
  }
  if (ms < static_cast<uint64_t>(min.count())) {
    return problem(
        map[key], join_key(path, key),
        "expected at least " + std::to_string(min.count()) + " ms, got " + map[key].Scalar());
  }
  if (ms > static_cast<uint64_t>(max.count())) {
    return problem(
        map[key], join_key(path, key),
        "expected at most " + std::to_string(max.count()) + " ms, got " + map[key].Scalar());
  }
  out = std::chrono::milliseconds(ms);
}

void YamlReader::read_size(const YAML::Node& map, std::string_view path, const char* key,
                           uint64_t& out, uint64_t min, uint64_t max) {
  uint64_t bytes = 0;
  if (!read_scaled(
          map, path, key, "a size such as 65536, 64KiB or 10MiB",
          {{"", 1}, {"B", 1}, {"KiB", 1ull << 10}, {"MiB", 1ull << 20}, {"GiB", 1ull << 30}},
          bytes)) {
    return;
  }
  if (bytes < min || bytes > max) {
    return problem(map[key], join_key(path, key),
                   "expected from " + std::to_string(min) + " to " + std::to_string(max) +
                       " bytes, got " + map[key].Scalar());
  }
  out = bytes;
}

Status YamlReader::status() const {
  if (problems_.empty()) return Status::ok();
  std::string all;
  for (const auto& p : problems_) all += (all.empty() ? "" : "\n") + p;
  return Status::error(all);
}

FileFault YamlReader::fault() const {
  // Every problem starts "FILE:" and, when its place is known, "LINE:COLUMN: ".
  const std::string& first = problems_.front();
  const std::string prefix = file_ + ":";
  int line = 0;
  if (first.compare(0, prefix.size(), prefix) == 0 && first.size() > prefix.size() &&
      std::isdigit(static_cast<unsigned char>(first[prefix.size()]))) {
    line = static_cast<int>(std::strtol(first.c_str() + prefix.size(), nullptr, 10));
  }
  return FileFault{file_, line};
}

}  // namespace hub
