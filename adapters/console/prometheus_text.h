// hubd's metrics in the Prometheus text exposition format 0.0.4 (what the Console module
// serves at /metrics), rendered from the Hub API's `inspect` result (docs/API.md).
//
// Contract: every metric has its # HELP and # TYPE lines before its samples; names follow
// Prometheus conventions (hub_ prefix, base units, counters end in _total, sizes in
// _bytes, durations in _seconds); label values are escaped (\\, \", \n); histograms give
// cumulative _bucket{le="..."} samples ending in le="+Inf", then _sum and _count. A field
// missing from `inspect` (an older hubd) leaves its metric out; nothing is invented. The
// metric names are listed in docs/API.md ("Metrics"). Pure function, thread-safe.
#pragma once

#include <string>

#include <yaml-cpp/yaml.h>

namespace hub {

// The content type to serve it with.
inline constexpr const char* kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

// `inspect` is the parsed JSON result of the `inspect` method (YAML::Load of its text).
std::string prometheus_text(const YAML::Node& inspect);

}  // namespace hub
