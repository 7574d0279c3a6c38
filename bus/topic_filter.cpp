#include "bus/topic_filter.h"

#include <algorithm>

namespace hub {

std::optional<std::string> pattern_problem(std::string_view pattern) {
  if (pattern.empty()) return "the pattern is empty";
  size_t start = 0;
  for (;;) {
    const size_t end = std::min(pattern.find('/', start), pattern.size());
    const std::string_view level = pattern.substr(start, end - start);
    const bool last = end == pattern.size();
    if (level.find_first_of("+#") != std::string_view::npos && level.size() != 1) {
      return "a wildcard ('+' or '#') must be a whole level in '" + std::string(pattern) + "'";
    }
    if (level == "#" && !last) {
      return "'#' may only be the last level in '" + std::string(pattern) + "'";
    }
    if (last) return std::nullopt;
    start = end + 1;
  }
}

bool pattern_matches(std::string_view pattern, std::string_view topic) {
  size_t p = 0, t = 0;
  for (;;) {
    const size_t p_end = std::min(pattern.find('/', p), pattern.size());
    const std::string_view level = pattern.substr(p, p_end - p);
    if (level == "#") return true;
    const size_t t_end = std::min(topic.find('/', t), topic.size());
    if (level != "+" && level != topic.substr(t, t_end - t)) return false;
    const bool pattern_done = p_end == pattern.size();
    const bool topic_done = t_end == topic.size();
    if (pattern_done || topic_done) {
      if (pattern_done && topic_done) return true;
      // "a/#" also matches "a": the only way a shorter topic can still match.
      return topic_done && pattern.substr(p_end) == "/#";
    }
    p = p_end + 1;
    t = t_end + 1;
  }
}

Result<TopicFilter> TopicFilter::parse(std::vector<std::string> patterns) {
  TopicFilter filter;
  for (const auto& pattern : patterns) {
    if (auto problem = pattern_problem(pattern)) return Status::error(*problem);
    if (pattern == "#") filter.matches_all_ = true;
  }
  if (patterns.empty()) {
    patterns.emplace_back("#");
    filter.matches_all_ = true;
  }
  filter.patterns_ = std::move(patterns);
  return filter;
}

bool TopicFilter::matches(std::string_view topic) const {
  if (matches_all_) return true;
  return std::any_of(patterns_.begin(), patterns_.end(),
                     [&](const std::string& p) { return pattern_matches(p, topic); });
}

std::vector<std::string> TopicFilter::zmq_prefixes() const {
  if (matches_all_) return {""};
  std::vector<std::string> prefixes;
  for (const auto& p : patterns_) {
    std::string prefix = p.substr(0, p.find_first_of("+#"));
    if (std::find(prefixes.begin(), prefixes.end(), prefix) == prefixes.end()) {
      prefixes.push_back(std::move(prefix));
    }
  }
  return prefixes;
}

std::string TopicFilter::single_module() const {
  std::string module;
  for (const auto& p : patterns_) {
    const std::string first = p.substr(0, p.find('/'));
    if (first.empty() || first == "+" || first == "#" || p.find('/') == std::string::npos) {
      return {};
    }
    if (!module.empty() && first != module) return {};
    module = first;
  }
  return matches_all_ ? std::string() : module;
}

}  // namespace hub
