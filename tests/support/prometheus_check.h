// A strict reader of the Prometheus text exposition format 0.0.4, for tests of /metrics:
// every line is a # HELP, a # TYPE or a sample; each family has one HELP and one TYPE,
// before its samples, which come together; names and label names are valid, label values
// correctly escaped, values numbers; counters end in _total and never go negative;
// histograms have only _bucket (with le), _sum and _count samples, buckets in increasing
// le with non-decreasing counts, ending in le="+Inf" equal to _count; no series twice.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace hub::test {

struct PrometheusSample {
  std::string name;                           // as written (with _bucket, _sum, _count)
  std::map<std::string, std::string> labels;  // unescaped
  double value = 0;
};

struct PrometheusExposition {
  std::vector<std::string> problems;         // "line N: what is wrong"; empty: the text is valid
  std::map<std::string, std::string> types;  // family -> counter, gauge, histogram, ...
  std::vector<PrometheusSample> samples;

  // The value of the sample `name` with exactly `labels`; NaN when absent.
  double value(const std::string& name,
               const std::map<std::string, std::string>& labels = {}) const;
};

PrometheusExposition check_prometheus_text(const std::string& text);

}  // namespace hub::test
