// Reading the bus's past from the broker's journal (docs/PROTOCOL.md, "Replay"): events
// from a sequence number on, optionally only those matching MQTT-style patterns, in order,
// with bounded memory whatever the range. Used by bus-tap (--from, --last) and, later, by
// gap recovery and durable consumers. One thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <zmq.hpp>

#include "bus/credentials.h"
#include "bus/status.h"
#include "bus/subscriber.h"

namespace hub {

struct ReplayRequest {
  std::string endpoint;  // the broker's replay socket
  uint64_t from = 1;
  uint64_t to = 0;  // the last seq wanted; 0: up to the newest event
  std::vector<std::string> patterns;
  std::chrono::milliseconds timeout{10000};  // for each answer of the broker
};

struct ReplayOutcome {
  uint64_t last_seq = 0;  // the newest event on the bus when the replay caught up
  // Ranges the journal no longer holds (retention), [first, last] each.
  std::vector<std::pair<uint64_t, uint64_t>> lost;
};

// A replay pulled one event at a time, asking the broker for the next answer as soon as
// one arrives (memory: two answers, at most twice the credit). One thread only.
class ReplayCursor {
 public:
  ReplayCursor(zmq::context_t& ctx, const Credential& credential, ReplayRequest request);
  // The next event, or nullopt once the replay has caught up (or reached request.to).
  Result<std::optional<Event>> next();
  const ReplayOutcome& outcome() const { return outcome_; }

 private:
  Status ask();
  zmq::socket_t socket_;
  ReplayRequest request_;
  ReplayOutcome outcome_;
  uint64_t from_;
  std::deque<Event> ready_;
  bool asked_ = false;
  bool done_ = false;
};

// Calls `on_event` for each event in order; it returns false to stop early. Fails with
// the broker's reason (no journal, bad pattern) or when an answer does not come in time.
Result<ReplayOutcome> replay(zmq::context_t& ctx, const Credential& credential,
                             const ReplayRequest& request,
                             const std::function<bool(const Event&)>& on_event);

}  // namespace hub
