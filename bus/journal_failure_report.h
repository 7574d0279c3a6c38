// What the broker says about journal failures on the bus (Hub/journal-failed) and in the
// log, rate-bounded: the first failure at once, later ones gathered and reported at most
// once per interval, with counts, so a full disk cannot flood either. One thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "bus/journal.h"

namespace hub {

class JournalFailureReport {
 public:
  using Clock = std::chrono::steady_clock;
  explicit JournalFailureReport(std::chrono::milliseconds interval) : interval_(interval) {}

  // One failure, `why` (naming the file), which lost `loss` (empty when it cost no
  // number: a refused reservation).
  void record(const JournalLoss& loss, const std::string& why, Clock::time_point now);
  // When the next report is due; nullopt when there is nothing to report.
  std::optional<Clock::time_point> due() const;
  // The report due at `now`, as a JSON object for Hub/journal-failed, or nullopt. Counts
  // start again from zero after it.
  //   {"error": the last failure's reason, "failures": N, "events_lost": K,
  //    "first_seq": A, "last_seq": B (the losses lie within A..B; 0 when none),
  //    "total_failures": N since the broker started, "total_events_lost": K since then}
  std::optional<std::string> take(Clock::time_point now);

 private:
  std::chrono::milliseconds interval_;
  std::optional<Clock::time_point> last_report_;
  uint64_t failures_ = 0, events_lost_ = 0, first_seq_ = 0, last_seq_ = 0;
  uint64_t total_failures_ = 0, total_events_lost_ = 0;
  std::string why_;
};

}  // namespace hub
