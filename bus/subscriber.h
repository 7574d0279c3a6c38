// Subscribing to the bus. A Subscriber owns one SUB socket connected to the broker's XPUB,
// filters with MQTT-style patterns, and can join with the retained events (the last
// retained event of each matching topic) followed by every later event, with no gap
// between the two. Move-only; one thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <zmq.hpp>

#include "bus/credentials.h"
#include "bus/event.h"
#include "bus/gap_tracker.h"
#include "bus/replay_client.h"
#include "bus/status.h"
#include "bus/topic_filter.h"
#include "bus/wire.h"

namespace hub {

struct SubscriberOptions {
  std::string events_endpoint;        // the broker's XPUB
  std::string replay_endpoint;        // the broker's snapshot socket (used when retained)
  std::vector<std::string> patterns;  // MQTT-style; empty means everything
  bool retained = true;               // start with the retained events of matching topics
  // Return from open() only once the subscription is active, so every event published
  // afterwards arrives (the retained join does this too; this asks for it without them).
  bool sync = true;
  int receive_hwm = 10000;
  // How long open() waits for the snapshot. Longer than the broker's own 5 s wait for
  // the sync subscription, so its explanation arrives before we give up.
  std::chrono::milliseconds connect_timeout{6000};
  // When readable, next() returns nullopt at once (a signal handler writes to it). -1: none.
  int wake_fd = -1;
  // Miss nothing: fetch the events this subscriber missed (it fell more than the broker's
  // queue behind) from the hub's journal through replay_endpoint, and deliver them in
  // order before the next live one. Events the journal no longer holds go to on_gap. To
  // see its gaps, a subscriber whose patterns all name one module receives that module's
  // every event (and filters here); one with patterns across modules becomes `lossless`.
  bool recover = false;
  // Receive every event and filter here, so that gaps show in the sequence numbers also
  // for a subscriber with patterns. Costs the whole bus's traffic.
  bool lossless = false;
  // With `recover`: first deliver, from the journal, the matching events from this seq on
  // that were published before open() (a durable consumer's first unhandled one), then go
  // on live, none twice. 0: from now on only.
  uint64_t resume_from = 0;
  // Called when sequence numbers skip (events were missed because this subscriber fell
  // more than the high-water mark behind; with `recover`, only those the journal could
  // not give back). Told by a subscriber to everything, a lossless one, and a recovering
  // one whose patterns all name one module (it receives that module's every event).
  std::function<void(uint64_t first_missed, uint64_t last_missed)> on_gap;
};

class Subscriber {
 public:
  // Connects and subscribes. With `retained`, also waits (up to connect_timeout) for the
  // snapshot. Fails with a clear message when no hub answers at the endpoints.
  static Result<Subscriber> open(zmq::context_t& ctx, const Credential& credential,
                                 SubscriberOptions options);

  ~Subscriber();
  Subscriber(Subscriber&&) noexcept;
  Subscriber& operator=(Subscriber&&) noexcept;

  // The next matching event, in sequence order; nullopt when `timeout` passes first
  // (a negative timeout waits for ever), or early when wake_fd becomes readable or a
  // signal interrupts the wait.
  std::optional<Event> next(std::chrono::milliseconds timeout);

  // Frames that did not decode as an event (should stay 0 against a hub).
  uint64_t malformed() const { return malformed_; }
  // Events delivered from the journal: missed live (or published before open(), resuming).
  uint64_t recovered() const { return recovered_; }
  // With `recover`, once next() has nothing more: every matching event up to this seq has
  // been handed out (a durable consumer may mark it handled).
  uint64_t delivered_through() const { return std::max(gaps_.seen(), last_seq_); }
  // The newest event published before open() (with `sync` or `retained`; else 0).
  uint64_t joined_at() const { return join_seq_; }

 private:
  Subscriber(zmq::socket_t socket, TopicFilter filter, SubscriberOptions options,
             zmq::context_t& ctx, Credential credential, bool tracks_module);
  std::optional<Event> next_recovered();
  void start_fetch();  // a ReplayCursor for gaps_.fetch_range()
  uint64_t idle_check_after() const;
  Status join_with_snapshot(zmq::context_t& ctx, const Credential& credential,
                            const std::string& token);
  std::optional<Event> receive(std::chrono::milliseconds timeout);

  zmq::socket_t socket_;
  TopicFilter filter_;
  SubscriberOptions options_;
  std::deque<Event> snapshot_;  // retained events not yet handed out
  uint64_t join_seq_ = 0;       // live events at or below this, stamped before
  uint64_t join_time_ns_ = 0;   // this time, predate the snapshot
  bool joined_ = false;         // a live event after join_seq_ has been seen
  uint64_t last_seq_ = 0;
  uint64_t malformed_ = 0;
  uint64_t recovered_ = 0;
  zmq::context_t* ctx_;
  Credential credential_;
  GapTracker gaps_;                           // what was missed, fetched, reported
  std::unique_ptr<ReplayCursor> recovering_;  // while gaps_ fetches from the journal
  std::optional<Event> resume_;               // the live event that showed the gap
  uint64_t queue_bound_ = 0;                  // the broker's queue per subscriber (0: unknown)
  uint64_t received_since_check_ = 0;         // messages received since the journal was last asked
  std::chrono::steady_clock::time_point last_check_ = std::chrono::steady_clock::now();
};

}  // namespace hub
