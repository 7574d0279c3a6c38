// Reading the bus's past from the broker's journal (docs/PROTOCOL.md, "Replay"): events
// from a sequence number on, optionally only those matching MQTT-style patterns, in order,
// with bounded memory whatever the range. Used by bus-tap (--from, --last), and by a
// recovering Subscriber (gap recovery, durable consumers resuming). One thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <zmq.hpp>

#include "bus/credentials.h"
#include "bus/event.h"
#include "bus/status.h"

namespace hub {

// Numbers missing from the journal, first..last, and what the hub knows of why
// (retention, a corrupt record, a cut or deleted segment, a failed write).
struct ReplayGap {
  uint64_t first = 0;
  uint64_t last = 0;
  std::string why;
};

struct ReplayRequest {
  std::string endpoint;  // the broker's replay socket
  uint64_t from = 1;
  uint64_t to = 0;  // the last seq wanted; 0: up to the newest event
  std::vector<std::string> patterns;
  std::chrono::milliseconds timeout{10000};  // for each answer of the broker
  // Told of each gap in order: after the events before it, before those after it (clipped
  // to the range asked for). Nothing thrown from it is caught.
  std::function<void(const ReplayGap&)> on_gap;
};

struct ReplayOutcome {
  uint64_t last_seq = 0;        // the newest event on the bus when the replay caught up
  std::vector<ReplayGap> lost;  // every gap met, in order (as told to on_gap)
};

// A replay pulled one event at a time, asking the broker for the next answer as soon as
// one arrives (memory: two answers, at most twice the credit). One thread only.
class ReplayCursor {
 public:
  ReplayCursor(zmq::context_t& ctx, const Credential& credential, ReplayRequest request);
  // The next event, or nullopt once the replay has caught up (or reached request.to).
  // Gaps before it are told to request.on_gap first.
  Result<std::optional<Event>> next();
  const ReplayOutcome& outcome() const { return outcome_; }

 private:
  Status ask();
  Status receive();  // takes in answers: waits while nothing is at hand
  zmq::socket_t socket_;
  ReplayRequest request_;
  ReplayOutcome outcome_;
  uint64_t from_;
  std::deque<std::variant<Event, ReplayGap>> ready_;  // in sequence order
  bool asked_ = false;
  bool done_ = false;
};

// Calls `on_event` for each event in order; it returns false to stop early. Fails with
// the broker's reason (no journal, bad pattern) or when an answer does not come in time.
Result<ReplayOutcome> replay(zmq::context_t& ctx, const Credential& credential,
                             const ReplayRequest& request,
                             const std::function<bool(const Event&)>& on_event);

}  // namespace hub
