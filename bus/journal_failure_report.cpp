#include "bus/journal_failure_report.h"

#include <algorithm>

#include "bus/text.h"

namespace hub {

void JournalFailureReport::record(const JournalLoss& loss, const std::string& why,
                                  Clock::time_point) {
  ++failures_;
  ++total_failures_;
  why_ = why;
  if (loss.empty()) return;
  const uint64_t lost = loss.last - loss.first + 1;
  events_lost_ += lost;
  total_events_lost_ += lost;
  first_seq_ = first_seq_ == 0 ? loss.first : std::min(first_seq_, loss.first);
  last_seq_ = std::max(last_seq_, loss.last);
}

std::optional<JournalFailureReport::Clock::time_point> JournalFailureReport::due() const {
  if (failures_ == 0) return std::nullopt;
  if (!last_report_) return Clock::time_point::min();
  return *last_report_ + interval_;
}

std::optional<std::string> JournalFailureReport::take(Clock::time_point now) {
  const auto at = due();
  // A quiet spell as long as the interval makes the next failure news again, at once.
  if (!at || *at > now) return std::nullopt;
  std::string why;
  append_printable(why, why_);  // a path may hold any bytes; the payload is UTF-8
  const std::string report = JsonObject()
                                 .add("error", why)
                                 .add("failures", static_cast<int64_t>(failures_))
                                 .add("events_lost", static_cast<int64_t>(events_lost_))
                                 .add("first_seq", static_cast<int64_t>(first_seq_))
                                 .add("last_seq", static_cast<int64_t>(last_seq_))
                                 .add("total_failures", static_cast<int64_t>(total_failures_))
                                 .add("total_events_lost", static_cast<int64_t>(total_events_lost_))
                                 .str();
  last_report_ = now;
  failures_ = events_lost_ = first_seq_ = last_seq_ = 0;
  return report;
}

}  // namespace hub
