// The pieces of the Prometheus text exposition format 0.0.4: a metric family (its # HELP
// and # TYPE lines and its samples, written together), label and help escaping, and
// numbers as the format spells them. Used by prometheus_text.h.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hub::prometheus {

// name="value" pairs, in the order they are written.
using Labels = std::vector<std::pair<std::string, std::string>>;

// `v` as the format writes it: the shortest decimal that reads back as `v`, "+Inf",
// "-Inf" or "NaN".
std::string number(double v);

// `s` for a label value: \ as \\, " as \", a newline as \n.
std::string escape_label_value(std::string_view s);
// `s` for a HELP line: \ as \\, a newline as \n.
std::string escape_help(std::string_view s);

enum class Type { kCounter, kGauge, kHistogram };

class Family {
 public:
  // `name` must match [a-zA-Z_:][a-zA-Z0-9_:]*; a counter's ends in _total.
  Family(std::string name, Type type, std::string help);

  // One sample: NAME{labels} value (`value` already spelled as the format wants).
  void add(const Labels& labels, const std::string& value);
  // A histogram's samples for `labels`: NAME_bucket{labels,le="B"} for each upper bound in
  // `bounds` (cumulative counts, same length), le="+Inf" with `count`, NAME_sum, NAME_count.
  void add_histogram(const Labels& labels, const std::vector<double>& bounds,
                     const std::vector<uint64_t>& cumulative, uint64_t count, double sum);

  bool empty() const { return samples_.empty(); }
  // # HELP, # TYPE and the samples; nothing for a family without samples.
  void append_to(std::string& out) const;

 private:
  void add_line(std::string_view suffix, const Labels& labels, const std::string& value);

  std::string name_;
  Type type_;
  std::string help_;
  std::string samples_;
};

}  // namespace hub::prometheus
