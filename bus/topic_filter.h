// MQTT-style topic patterns on top of ZeroMQ prefix subscription. A pattern is
// '/'-separated levels where '+' matches exactly one level and '#' (only as the last
// level) matches any number of remaining levels, including none. Value type, thread-safe
// for concurrent reads.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bus/status.h"

namespace hub {

// Why `pattern` is not a valid pattern, or nullopt when it is.
std::optional<std::string> pattern_problem(std::string_view pattern);

// REQUIRES: pattern_problem(pattern) is nullopt.
bool pattern_matches(std::string_view pattern, std::string_view topic);

class TopicFilter {
 public:
  // No patterns means every topic ("#"). Fails naming the first invalid pattern.
  static Result<TopicFilter> parse(std::vector<std::string> patterns);

  bool matches(std::string_view topic) const;
  bool matches_all() const { return matches_all_; }
  const std::vector<std::string>& patterns() const { return patterns_; }

  // The ZeroMQ subscription prefixes that let through every topic some pattern matches
  // (the text before each pattern's first wildcard), without duplicates.
  std::vector<std::string> zmq_prefixes() const;

  // The module every pattern names literally in its first level ("Foo" for "Foo/+" and
  // "Foo/bar"), or empty when the patterns reach more than one module.
  std::string single_module() const;

 private:
  std::vector<std::string> patterns_;
  bool matches_all_ = false;
};

}  // namespace hub
