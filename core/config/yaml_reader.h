// Strict reading of YAML settings files: every problem names the file, line, column
// and dotted key, and says what was expected ("hub.yml:4:3: bus.max_payload: expected a
// size such as 65536 or 64KiB, got 'big'"). Unknown keys are errors. Problems are
// collected so a user sees all of them at once. One thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "bus/status.h"
#include "bus/yaml_document.h"
#include "core/system/files.h"

namespace hub {

class YamlReader {
 public:
  explicit YamlReader(std::string file_name) : file_(std::move(file_name)) {}

  // Parses the file (read_small_file, then parse_yaml: a regular file of at most
  // limits.max_bytes, no key twice in a map, at most limits.max_nodes nodes). Any problem
  // is reported and yields a null node.
  YAML::Node load_file(const std::string& path, const YamlLimits& limits = {});

  // Every key of the map `node` (named `path`) must be one of `known`. Returns false
  // (and reports) when `node` is not a map.
  bool expect_map(const YAML::Node& node, std::string_view path,
                  std::initializer_list<std::string_view> known);

  // Each read leaves `out` untouched when the key is absent, reports when it is there
  // with the wrong type or out of range.
  void read(const YAML::Node& map, std::string_view path, const char* key, int64_t& out,
            int64_t min, int64_t max);
  void read(const YAML::Node& map, std::string_view path, const char* key, std::string& out);
  void read(const YAML::Node& map, std::string_view path, const char* key, bool& out);
  void read(const YAML::Node& map, std::string_view path, const char* key,
            std::vector<std::string>& out);
  // Strings (alone or in a list) with a NUL character are refused: hub hands them to the
  // system as C strings, which would end at the NUL.
  // "250ms", "5s", "2m", "1h"; a bare number is seconds. From `min` to `max`.
  void read_duration(const YAML::Node& map, std::string_view path, const char* key,
                     std::chrono::milliseconds& out, std::chrono::milliseconds min,
                     std::chrono::milliseconds max);
  // 65536, "64KiB", "10MiB", "1GiB". From `min` (1 byte unless given) to `max`.
  void read_size(const YAML::Node& map, std::string_view path, const char* key, uint64_t& out,
                 uint64_t max) {
    read_size(map, path, key, out, 1, max);
  }
  void read_size(const YAML::Node& map, std::string_view path, const char* key, uint64_t& out,
                 uint64_t min, uint64_t max);

  // Reports a problem at `at` (its line and column when it has them).
  void problem(const YAML::Node& at, std::string_view path, const std::string& what);
  // False (and reports) when the scalar holds a NUL character.
  bool free_of_nul(const YAML::Node& scalar, std::string_view path);

  bool ok() const { return problems_.empty(); }
  const std::vector<std::string>& problems() const { return problems_; }
  // All problems, one per line; Status::ok() when there are none.
  Status status() const;
  // This file, and the line of the first problem. REQUIRES: !ok()
  FileFault fault() const;

 private:
  // Reads "<number><unit>" where `units` maps each accepted unit to a multiplier.
  // Returns true when it stored a value in `out`.
  bool read_scaled(const YAML::Node& map, std::string_view path, const char* key,
                   const std::string& expected,
                   std::initializer_list<std::pair<std::string_view, uint64_t>> units,
                   uint64_t& out);

  // Each line of `lines` as a problem of its own.
  void add_problems(const std::string& lines);

  std::string file_;
  std::vector<std::string> problems_;
};

std::string join_key(std::string_view path, std::string_view key);

}  // namespace hub
