// The sequence-number bookkeeping of a Subscriber: which numbers it has accounted for,
// when a live event shows that some were missed, what to fetch from the journal, and which
// missed numbers to report as lost (SubscriberOptions::on_gap). No sockets: the Subscriber
// feeds it the live events, and the outcome of each fetch it runs; every decision follows
// from those alone.
//
// Gaps show in the number of every event (a subscriber that receives all of them: one to
// everything, or a lossless one), or in module_prev of each event of the one module a
// chained subscriber receives all of. One thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "bus/event.h"
#include "bus/replay_client.h"

namespace hub {

struct GapTrackerMode {
  bool tracks_all = false;     // every event's number arrives
  bool tracks_module = false;  // every event of one module arrives (module_prev chains them)
  bool recover = false;        // missed numbers are fetched from the journal
  bool matches_all = false;    // the subscriber wants every event (no patterns)
};

class GapTracker {
 public:
  // `report` is told each run of numbers found lost, first..last (never an empty one).
  GapTracker(GapTrackerMode mode, std::function<void(uint64_t first, uint64_t last)> report);

  // The broker's number at the join (the newest event published before it): a chained
  // subscriber expects its module's every event after it.
  void joined(uint64_t join_seq);
  // Resuming: every event from `first` on is due; `fetch_first` when some of them were
  // published before the join, so a fetch must bring them first (start_resume).
  void resume_from(uint64_t first, bool fetch_first);

  // What to do with a live event.
  enum class Verdict {
    kDeliver,  // deliver it (if wanted), after reporting any gap before it
    kDrop,     // a fetch delivered it already
    kFetch,    // fetch fetch_range() first; deliver the event after that (if wanted)
  };
  Verdict live(const Event& e);

  // Fetching. Each start_* says whether a fetch of fetch_range() is to begin now.
  // Resuming: the first fetch (the events from resume_from's `first` up to `join_seq`).
  bool start_resume(uint64_t join_seq);
  // An idle check: whatever was missed up to now (the tail of a burst shows no gap).
  bool start_catch_up();
  // The numbers to fetch: first..last, last 0 meaning up to the newest.
  struct Range {
    uint64_t first = 0;
    uint64_t last = 0;
  };
  Range fetch_range() const { return {seen_ + 1, fetch_to_}; }
  bool fetching() const { return fetching_; }

  // The running fetch's progress, as its ReplayCursor tells it.
  // Every gap the fetch met so far (ReplayOutcome::lost, cumulative): the new ones are
  // reported, clipped to what is not accounted for yet.
  void fetch_lost(const std::vector<ReplayGap>& lost);
  // An event the fetch brought: true when it is to be delivered (if wanted), false when it
  // was delivered already.
  bool fetched(uint64_t seq);
  // The fetch caught up; the bus's newest event was `last_seq` then. Ends the fetch.
  void fetch_caught_up(uint64_t last_seq);
  // The fetch failed. True: fetch fetch_range() again (a busy or restarting hub). False:
  // it failed too often, what it was to bring is reported lost, and the fetch is over.
  bool fetch_failed();

  // The newest number accounted for (delivered, dropped as unwanted, or reported lost).
  uint64_t seen() const { return seen_; }
  // Recovery asked for, possible, and a first number seen.
  bool can_fetch() const;

 private:
  void start_fetch(uint64_t to);
  void end_fetch();
  void report(uint64_t first, uint64_t last) const;

  GapTrackerMode mode_;
  std::function<void(uint64_t, uint64_t)> report_;
  uint64_t seen_ = 0;                  // the newest number received or replayed
  bool fetching_ = false;              // a fetch is running
  uint64_t fetch_to_ = 0;              // its end (0: up to now)
  int fetch_failures_ = 0;             // in a row, of the running fetch
  size_t fetch_gaps_told_ = 0;         // of the running fetch's lost gaps
  uint64_t pending_seen_ = 0;          // the live event that showed the gap, if any
  uint64_t pending_lost_through_ = 0;  // the last number before it that was an event
  bool resume_pending_ = false;        // resume_from's fetch is still to start
  uint64_t resume_until_ = 0;          // while it runs: the newest event before the join
};

}  // namespace hub
