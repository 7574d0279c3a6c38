// What the console takes from the bus: every event counts in the rates and, when it is a
// lifecycle event, in the timeline; and it is offered to each browser's live view that
// asked for it (LiveClient). Called from the SDK subscription's thread, it does a bounded
// amount of work per event and never waits on a browser, so a slow page cannot slow the
// console's subscription, let alone the bus. Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "console/event_rates.h"
#include "console/event_view.h"
#include "console/live_client.h"
#include "console/service_timeline.h"

namespace hub::console {

class LiveFeed {
 public:
  // At most this many live views at once (each holds one HTTP thread).
  static constexpr size_t kMaxClients = 8;

  // A new live view, or nullptr when kMaxClients are open.
  std::shared_ptr<LiveClient> join(TopicFilter filter, uint32_t rate, uint32_t queue_limit);
  void leave(const std::shared_ptr<LiveClient>& client);
  // Closes every view (shutdown).
  void close_all();

  // An event from the bus: counted, recorded, offered.
  void on_event(const EventView& e);
  // An event from the journal, before the console subscribed: counted and recorded only.
  void on_past_event(const EventView& e);

  const EventRates& rates() const { return rates_; }
  const ServiceTimeline& timeline() const { return timeline_; }
  uint64_t events_seen() const { return seen_.load(std::memory_order_relaxed); }
  size_t clients() const;

 private:
  void count(const EventView& e);
  EventRates rates_;
  ServiceTimeline timeline_;
  std::atomic<uint64_t> seen_{0};
  mutable std::mutex mu_;
  std::vector<std::shared_ptr<LiveClient>> clients_;  // guarded by mu_
};

}  // namespace hub::console
