#include "bus/gap_tracker.h"

#include <algorithm>
#include <utility>

#include "bus/credentials.h"
#include "bus/wire.h"

namespace hub {
namespace {

constexpr int kFetchAttempts = 3;  // fetches tried before what they were to bring is lost

// Numbers skipped just before Hub/recovered were reserved by a hubd that stopped (it is the
// first event of the hubd that started next, and says which), not events that were lost;
// those below them were durable once, and are.
bool follows_reserved_numbers(const Event& e) {
  return e.topic() == wire::kRecoveredTopic && e.source == kHubIdentity;
}

// The last number missed before `e`: e.seq - 1, or, before Hub/recovered, the last below
// the numbers it says were only reserved.
uint64_t missed_before(const Event& e) {
  if (!follows_reserved_numbers(e)) return e.seq - 1;
  return wire::recovered_lost_through(e.payload(), e.seq);
}

}  // namespace

GapTracker::GapTracker(GapTrackerMode mode, std::function<void(uint64_t, uint64_t)> report)
    : mode_(mode), report_(std::move(report)) {}

void GapTracker::joined(uint64_t join_seq) {
  // One missed before the first of the module that arrives shows in its module_prev.
  if (mode_.tracks_module) seen_ = join_seq;
}

void GapTracker::resume_from(uint64_t first, bool fetch_first) {
  seen_ = first - 1;
  resume_pending_ = fetch_first;
}

bool GapTracker::can_fetch() const {
  return mode_.recover && (mode_.tracks_all || mode_.tracks_module) && seen_ != 0;
}

GapTracker::Verdict GapTracker::live(const Event& e) {
  if (!mode_.tracks_all && !mode_.tracks_module) return Verdict::kDeliver;
  if (can_fetch() && e.seq <= seen_) return Verdict::kDrop;
  const bool gap = mode_.tracks_all ? e.seq > seen_ + 1 : e.module_prev > seen_;
  if (seen_ != 0 && gap) {
    if (can_fetch()) {
      start_fetch(e.seq - 1);
      pending_seen_ = e.seq;
      pending_lost_through_ = missed_before(e);
      return Verdict::kFetch;
    }
    report(seen_ + 1, missed_before(e));
  }
  seen_ = std::max(seen_, e.seq);
  return Verdict::kDeliver;
}

bool GapTracker::start_resume(uint64_t join_seq) {
  if (!resume_pending_) return false;
  resume_pending_ = false;
  resume_until_ = join_seq;
  start_fetch(0);
  return true;
}

bool GapTracker::start_catch_up() {
  if (!can_fetch()) return false;
  start_fetch(0);
  return true;
}

void GapTracker::start_fetch(uint64_t to) {
  fetching_ = true;
  fetch_to_ = to;
  fetch_gaps_told_ = 0;
}

// The hub names every number its journal lacks, in order, before the events after them:
// those are the gaps (reported to a subscriber with patterns too: some of them may have
// been its events).
void GapTracker::fetch_lost(const std::vector<ReplayGap>& lost) {
  for (; fetch_gaps_told_ < lost.size(); ++fetch_gaps_told_) {
    const ReplayGap& gap = lost[fetch_gaps_told_];
    if (gap.last <= seen_) continue;
    report(std::max(gap.first, seen_ + 1), gap.last);
    seen_ = gap.last;
  }
}

bool GapTracker::fetched(uint64_t seq) {
  fetch_failures_ = 0;
  if (seq <= seen_) return false;
  seen_ = seq;  // numbers skipped before it were told by fetch_lost
  return true;
}

void GapTracker::fetch_caught_up(uint64_t last_seq) {
  fetch_failures_ = 0;
  if (mode_.matches_all && pending_seen_ != 0) {  // the end of the range is missing
    report(seen_ + 1, pending_lost_through_);     // (not the numbers only reserved)
  }
  seen_ = std::max(seen_, pending_seen_ != 0 ? pending_seen_ - 1 : last_seq);
  end_fetch();
}

bool GapTracker::fetch_failed() {
  if (++fetch_failures_ < kFetchAttempts) {
    start_fetch(fetch_to_);  // from where it was
    return true;
  }
  fetch_failures_ = 0;
  // The journal cannot be asked: what was to come from it is lost.
  const uint64_t to = pending_seen_ != 0 ? pending_seen_ - 1 : resume_until_;
  report(seen_ + 1, to);
  seen_ = std::max(seen_, to);
  end_fetch();
  return false;
}

// The live event that showed the gap comes next: its number is accounted for.
void GapTracker::end_fetch() {
  fetching_ = false;
  resume_until_ = 0;
  if (pending_seen_ != 0) seen_ = std::max(seen_, pending_seen_);
  pending_seen_ = 0;
  pending_lost_through_ = 0;
}

void GapTracker::report(uint64_t first, uint64_t last) const {
  if (report_ && first <= last) report_(first, last);
}

}  // namespace hub
