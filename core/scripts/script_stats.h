// What the script dispatcher counts, for inspect's `scripts` (docs/API.md) and /metrics:
// runs, failures and queue depth per owner, and two histograms with fixed buckets: the
// latency from an event's stamp to the start of a script run for it, and how long runs
// last. Not thread-safe: the dispatcher guards them with its lock.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <string>

namespace hub {

// Upper bounds of the buckets, in microseconds (a last bucket, +Inf, holds the rest).
inline constexpr std::array<int64_t, 14> kScriptSecondsBucketsUs = {
    1000,   2500,   5000,    10000,   25000,   50000,    100000,
    250000, 500000, 1000000, 2500000, 5000000, 10000000, 60000000};

class DurationHistogram {
 public:
  void observe(std::chrono::nanoseconds d);
  // {"bounds_us": [...], "cumulative": [...], "count": N, "sum_ns": S}: cumulative[i]
  // counts the observations <= bounds_us[i]; count counts all of them (le +Inf).
  std::string json() const;

 private:
  std::array<uint64_t, kScriptSecondsBucketsUs.size()> in_bucket_{};  // not cumulative
  uint64_t count_ = 0;
  uint64_t sum_ns_ = 0;
};

// One owner's (the site's, or a module's) runs since hubd started, or since the module
// came back after it was removed.
struct ScriptOwnerCounts {
  uint64_t runs = 0;      // scripts run to their end (failed ones too)
  uint64_t failures = 0;  // runs that did not exit 0 (timeouts, signals, start errors)
  uint64_t timeouts = 0;  // of the failures, those that timed out
};

}  // namespace hub
