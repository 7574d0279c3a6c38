// The broker's snapshot service: a client joining with the retained events (docs/
// PROTOCOL.md, "Joining with retained events") subscribes on the events socket to a sync
// token, then asks on the replay socket with ["retained"][token][pattern]*. Once both have
// arrived (the subscription is in force, so no later event is missed) it is answered with
// [ok][last_seq, subscriber queue bound] and the retained events matching, in sequence
// order. A request whose sync subscription does not come in time gets an error. Broker
// thread only.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include <zmq.hpp>

#include "bus/retained_store.h"
#include "bus/topic_filter.h"

namespace hub {

class SnapshotService {
 public:
  using Clock = std::chrono::steady_clock;

  // Answers go out on `router`, from `retained`; `queue_bound` is the broker's queue per
  // subscriber, told with each answer; `answered` counts the answers.
  SnapshotService(zmq::socket_t& router, RetainedStore& retained, uint64_t queue_bound,
                  std::atomic<uint64_t>& answered);

  // A request: `frames` are those after the routing id, frames[0] "retained", frames[1]
  // the token. `last_seq` is the last sequence number handed out.
  void request(zmq::message_t routing_id, const std::vector<std::string>& frames,
               uint64_t last_seq);
  // The sync subscription to `token` arrived on the events socket.
  void sync_arrived(const std::string& token, uint64_t last_seq);
  // Refuses the requests whose sync subscription did not arrive in time.
  void expire();
  // When the next request times out; nullopt when none waits.
  std::optional<Clock::time_point> next_deadline() const;

 private:
  struct Pending {
    zmq::message_t routing_id;
    std::string token;
    TopicFilter filter;
    Clock::time_point deadline;
  };
  void answer(zmq::message_t& routing_id, const TopicFilter& filter, uint64_t last_seq);
  void remember_sync_token(const std::string& token);

  zmq::socket_t& router_;
  RetainedStore& retained_;
  uint64_t queue_bound_;
  std::atomic<uint64_t>& answered_;
  std::deque<Pending> pending_;  // ordered by deadline
  std::unordered_set<std::string> sync_seen_;
  std::deque<std::string> sync_order_;  // eviction order of sync_seen_
};

}  // namespace hub
