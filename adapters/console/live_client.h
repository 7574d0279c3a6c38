// One browser's live view: the events it asked for (a pattern), held in a bounded queue
// between the bus thread that offers them and the HTTP thread that streams them. Never
// blocks the offerer: beyond `rate` events per second the view is sampled (events are
// skipped and counted), and when the browser does not take what it was given fast enough
// the queue's bound drops the newest (counted too). Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "bus/topic_filter.h"

namespace hub::console {

// An event as the page receives it: its seq and its JSON, shared by every browser.
struct LiveEvent {
  uint64_t seq = 0;
  std::shared_ptr<const std::string> json;
};

struct LiveBatch {
  std::vector<LiveEvent> events;
  uint64_t sampled = 0;  // skipped since the last batch: beyond the rate
  uint64_t dropped = 0;  // skipped since the last batch: the queue was full
  bool closed = false;   // the console is shutting down
};

class LiveClient {
 public:
  LiveClient(TopicFilter filter, uint32_t rate, uint32_t queue_limit);

  bool wants(std::string_view topic) const { return filter_.matches(topic); }
  // Queues `event` unless the rate or the queue's bound says no (then counts it).
  void offer(const LiveEvent& event, std::chrono::steady_clock::time_point now);
  // Waits at most `timeout` for something to stream; returns what is held (possibly
  // nothing), with what was skipped since the last call.
  LiveBatch take(std::chrono::milliseconds timeout);
  void close();

 private:
  const TopicFilter filter_;
  const double rate_;
  const uint32_t queue_limit_;
  std::mutex mu_;
  std::condition_variable ready_;
  std::deque<LiveEvent> queue_;  // guarded by mu_
  double tokens_;                // guarded by mu_: the rate's bucket, at most rate_
  std::chrono::steady_clock::time_point refilled_;  // guarded by mu_
  uint64_t sampled_ = 0;                            // guarded by mu_
  uint64_t dropped_ = 0;                            // guarded by mu_
  bool closed_ = false;                             // guarded by mu_
};

}  // namespace hub::console
