#include "console/prometheus_format.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace hub::prometheus {

std::string number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char text[32];
  if (v == std::floor(v) && std::fabs(v) < 1e15) {  // whole: 10, not 1e+01
    std::snprintf(text, sizeof text, "%.0f", v);
    return text;
  }
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(text, sizeof text, "%.*g", precision, v);
    if (std::strtod(text, nullptr) == v) break;
  }
  return text;
}

std::string escape_label_value(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string escape_help(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

Family::Family(std::string name, Type type, std::string help)
    : name_(std::move(name)), type_(type), help_(std::move(help)) {}

void Family::add_line(std::string_view suffix, const Labels& labels, const std::string& value) {
  samples_ += name_;
  samples_ += suffix;
  if (!labels.empty()) {
    samples_ += '{';
    for (size_t i = 0; i < labels.size(); ++i) {
      if (i > 0) samples_ += ',';
      samples_ += labels[i].first + "=\"" + escape_label_value(labels[i].second) + '"';
    }
    samples_ += '}';
  }
  samples_ += ' ' + value + '\n';
}

void Family::add(const Labels& labels, const std::string& value) { add_line("", labels, value); }

void Family::add_histogram(const Labels& labels, const std::vector<double>& bounds,
                           const std::vector<uint64_t>& cumulative, uint64_t count, double sum) {
  Labels with_le = labels;
  with_le.emplace_back("le", "");
  for (size_t i = 0; i < bounds.size() && i < cumulative.size(); ++i) {
    with_le.back().second = number(bounds[i]);
    add_line("_bucket", with_le, std::to_string(cumulative[i]));
  }
  with_le.back().second = "+Inf";
  add_line("_bucket", with_le, std::to_string(count));
  add_line("_sum", labels, number(sum));
  add_line("_count", labels, std::to_string(count));
}

void Family::append_to(std::string& out) const {
  if (samples_.empty()) return;
  static constexpr const char* kTypeNames[] = {"counter", "gauge", "histogram"};
  out += "# HELP " + name_ + ' ' + escape_help(help_) + '\n';
  out += "# TYPE " + name_ + ' ' + kTypeNames[static_cast<int>(type_)] + '\n';
  out += samples_;
}

}  // namespace hub::prometheus
