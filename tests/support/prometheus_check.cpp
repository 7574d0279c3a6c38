#include "support/prometheus_check.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <optional>
#include <set>
#include <sstream>

namespace hub::test {
namespace {

bool name_start(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':';
}
bool name_char(char c) { return name_start(c) || std::isdigit(static_cast<unsigned char>(c)); }

bool valid_name(const std::string& s, bool colons) {
  if (s.empty() || !name_start(s[0]) || (!colons && s[0] == ':')) return false;
  for (char c : s) {
    if (!name_char(c) || (!colons && c == ':')) return false;
  }
  return true;
}

std::optional<double> parse_value(const std::string& s) {
  if (s == "+Inf") return std::numeric_limits<double>::infinity();
  if (s == "-Inf") return -std::numeric_limits<double>::infinity();
  if (s == "NaN") return std::numeric_limits<double>::quiet_NaN();
  if (s.empty()) return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || s.find_first_of("xXpP") != std::string::npos ||
      s.find("inf") != std::string::npos || s.find("nan") != std::string::npos)
    return std::nullopt;
  return v;
}

// The family a sample belongs to: its name without a histogram suffix when a histogram of
// that name was declared.
std::string family_of(const std::string& name, const std::map<std::string, std::string>& types) {
  for (const char* suffix : {"_bucket", "_sum", "_count"}) {
    const std::string s(suffix);
    if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0) {
      const std::string base = name.substr(0, name.size() - s.size());
      const auto it = types.find(base);
      if (it != types.end() && it->second == "histogram") return base;
    }
  }
  return name;
}

// Parses NAME{a="x",b="y"} VALUE into `sample`; "" or what is wrong.
std::string parse_sample(const std::string& line, PrometheusSample& sample) {
  size_t i = 0;
  while (i < line.size() && name_char(line[i])) ++i;
  sample.name = line.substr(0, i);
  if (!valid_name(sample.name, true)) return "not a metric name: '" + sample.name + "'";
  if (i < line.size() && line[i] == '{') {
    ++i;
    while (i < line.size() && line[i] != '}') {
      const size_t start = i;
      while (i < line.size() && name_char(line[i])) ++i;
      const std::string label = line.substr(start, i - start);
      if (!valid_name(label, false) || label.rfind("__", 0) == 0)
        return "not a label name: '" + label + "'";
      if (line.compare(i, 2, "=\"") != 0) return "expected =\" after label " + label;
      i += 2;
      std::string value;
      for (;; ++i) {
        if (i >= line.size()) return "label " + label + "'s value is not closed";
        if (line[i] == '"') break;
        if (line[i] == '\\') {
          if (++i >= line.size()) return "label " + label + "'s value ends in a backslash";
          if (line[i] == 'n') {
            value += '\n';
          } else if (line[i] == '\\' || line[i] == '"') {
            value += line[i];
          } else {
            return std::string("label ") + label + " has the escape \\" + line[i] +
                   " (only \\\\, \\\" and \\n are)";
          }
        } else {
          value += line[i];
        }
      }
      ++i;  // the closing quote
      if (!sample.labels.emplace(label, value).second) return "label " + label + " twice";
      if (i < line.size() && line[i] == ',')
        ++i;
      else if (i < line.size() && line[i] != '}')
        return "expected , or } after label " + label;
    }
    if (i >= line.size()) return "labels not closed";
    ++i;
  }
  if (i >= line.size() || line[i] != ' ') return "expected a space before the value";
  std::istringstream rest(line.substr(i + 1));
  std::string value, timestamp, extra;
  rest >> value >> timestamp >> extra;
  if (!extra.empty()) return "more than a value and a timestamp";
  const auto v = parse_value(value);
  if (!v) return "not a value: '" + value + "'";
  sample.value = *v;
  if (!timestamp.empty() && timestamp.find_first_not_of("-0123456789") != std::string::npos)
    return "not a timestamp: '" + timestamp + "'";
  return "";
}

std::string series_key(const PrometheusSample& s) {
  std::string key = s.name;
  for (const auto& [k, v] : s.labels) key += '\0' + k + '=' + v;
  return key;
}

// The histogram rules, for the samples of one histogram family.
void check_histogram(const std::string& family, const std::vector<PrometheusSample>& samples,
                     std::vector<std::string>& problems) {
  // Per label set without le: buckets in order, then _count and _sum.
  struct Series {
    std::vector<std::pair<double, double>> buckets;  // (le, count)
    std::optional<double> count, sum;
  };
  std::map<std::map<std::string, std::string>, Series> by_labels;
  for (const auto& s : samples) {
    auto labels = s.labels;
    if (s.name == family + "_bucket") {
      const auto le = labels.find("le");
      if (le == labels.end()) {
        problems.push_back(family + "_bucket without le");
        continue;
      }
      const auto bound = parse_value(le->second);
      if (!bound || std::isnan(*bound)) {
        problems.push_back(family + "_bucket le=\"" + le->second + "\" is not a number");
        continue;
      }
      labels.erase(le);
      by_labels[labels].buckets.emplace_back(*bound, s.value);
    } else if (s.name == family + "_count") {
      by_labels[labels].count = s.value;
    } else if (s.name == family + "_sum") {
      by_labels[labels].sum = s.value;
    } else {
      problems.push_back("histogram " + family + " has the sample " + s.name);
    }
  }
  for (const auto& [labels, series] : by_labels) {
    const std::string what = "histogram " + family;
    if (series.buckets.empty()) {
      problems.push_back(what + " has no buckets");
      continue;
    }
    for (size_t i = 1; i < series.buckets.size(); ++i) {
      if (series.buckets[i].first <= series.buckets[i - 1].first)
        problems.push_back(what + ": le not increasing");
      if (series.buckets[i].second < series.buckets[i - 1].second)
        problems.push_back(what + ": bucket counts not cumulative");
    }
    if (!std::isinf(series.buckets.back().first) || series.buckets.back().first < 0)
      problems.push_back(what + ": the last bucket is not le=\"+Inf\"");
    if (!series.count || !series.sum) problems.push_back(what + ": _count or _sum missing");
    if (series.count && series.buckets.back().second != *series.count)
      problems.push_back(what + ": the +Inf bucket differs from _count");
  }
}

}  // namespace

double PrometheusExposition::value(const std::string& name,
                                   const std::map<std::string, std::string>& labels) const {
  for (const auto& s : samples) {
    if (s.name == name && s.labels == labels) return s.value;
  }
  return std::numeric_limits<double>::quiet_NaN();
}

PrometheusExposition check_prometheus_text(const std::string& text) {
  PrometheusExposition out;
  auto& problems = out.problems;
  if (!text.empty() && text.back() != '\n')
    problems.push_back("the text does not end in a newline");
  std::set<std::string> helped, closed, series;
  std::string current;  // the family whose lines come now
  std::map<std::string, std::vector<PrometheusSample>> by_family;
  std::istringstream lines(text);
  std::string line;
  for (int n = 1; std::getline(lines, line); ++n) {
    const std::string at = "line " + std::to_string(n) + ": ";
    const auto enter = [&](const std::string& family) {
      if (family == current) return;
      if (closed.count(family) != 0) problems.push_back(at + family + "'s lines are not together");
      if (!current.empty()) closed.insert(current);
      current = family;
    };
    if (line.empty()) {
      problems.push_back(at + "empty");
      continue;
    }
    if (line[0] == '#') {
      std::istringstream words(line);
      std::string hash, keyword, name, rest;
      words >> hash >> keyword >> name;
      std::getline(words, rest);
      if (hash != "#" || (keyword != "HELP" && keyword != "TYPE")) {
        problems.push_back(at + "a comment that is neither HELP nor TYPE");
        continue;
      }
      if (!valid_name(name, true)) problems.push_back(at + "not a metric name: '" + name + "'");
      enter(name);
      if (keyword == "HELP") {
        if (!helped.insert(name).second) problems.push_back(at + "a second HELP for " + name);
        if (out.types.count(name) != 0) problems.push_back(at + name + "'s HELP after its TYPE");
        for (size_t i = 0; i < rest.size(); ++i) {
          if (rest[i] == '\\' &&
              (i + 1 == rest.size() || (rest[i + 1] != '\\' && rest[i + 1] != 'n')))
            problems.push_back(at + "a HELP with a bad escape");
          if (rest[i] == '\\') ++i;
        }
        if (rest.size() < 2) problems.push_back(at + "an empty HELP for " + name);
      } else {
        const std::string type = rest.empty() ? "" : rest.substr(1);
        if (type != "counter" && type != "gauge" && type != "histogram" && type != "summary" &&
            type != "untyped")
          problems.push_back(at + "unknown type '" + type + "'");
        if (!out.types.emplace(name, type).second)
          problems.push_back(at + "a second TYPE for " + name);
        if (by_family.count(name) != 0) problems.push_back(at + name + "'s TYPE after its samples");
        if (type == "counter" &&
            (name.size() < 6 || name.compare(name.size() - 6, 6, "_total") != 0))
          problems.push_back(at + "counter " + name + " does not end in _total");
      }
      continue;
    }
    PrometheusSample sample;
    if (const std::string wrong = parse_sample(line, sample); !wrong.empty()) {
      problems.push_back(at + wrong);
      continue;
    }
    const std::string family = family_of(sample.name, out.types);
    enter(family);
    if (out.types.count(family) == 0 || helped.count(family) == 0)
      problems.push_back(at + family + " has no TYPE or HELP before its samples");
    if (!series.insert(series_key(sample)).second)
      problems.push_back(at + "the series " + sample.name + " twice");
    if (out.types[family] == "counter" && !(sample.value >= 0))
      problems.push_back(at + "counter " + family + " is not a non-negative number");
    by_family[family].push_back(sample);
    out.samples.push_back(std::move(sample));
  }
  for (const auto& [family, type] : out.types) {
    if (type == "histogram") check_histogram(family, by_family[family], problems);
  }
  return out;
}

}  // namespace hub::test
