#include "core/scripts/script_stats.h"

#include "bus/text.h"

namespace hub {

void DurationHistogram::observe(std::chrono::nanoseconds d) {
  const int64_t ns = d.count() < 0 ? 0 : d.count();  // a clock step back counts as 0
  for (size_t i = 0; i < kScriptSecondsBucketsUs.size(); ++i) {
    if (ns <= kScriptSecondsBucketsUs[i] * 1000) {
      ++in_bucket_[i];
      break;
    }
  }
  ++count_;
  sum_ns_ += static_cast<uint64_t>(ns);
}

std::string DurationHistogram::json() const {
  std::string bounds = "[", cumulative = "[";
  uint64_t below = 0;
  for (size_t i = 0; i < kScriptSecondsBucketsUs.size(); ++i) {
    below += in_bucket_[i];
    const char* comma = i == 0 ? "" : ",";
    bounds += comma + std::to_string(kScriptSecondsBucketsUs[i]);
    cumulative += comma + std::to_string(below);
  }
  return JsonObject()
      .add_raw("bounds_us", bounds + "]")
      .add_raw("cumulative", cumulative + "]")
      .add("count", static_cast<int64_t>(count_))
      .add("sum_ns", static_cast<int64_t>(sum_ns_))
      .str();
}

}  // namespace hub
