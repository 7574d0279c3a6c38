// The bookkeeping of one durable subscription (Context::subscribe_durable): which events
// were handed to its handler, which are handled, and its mark (ConsumerMark), from which a
// restart resumes. The subscription's thread hands events out, reports lost ones and ticks
// when idle; acknowledge() may come from any thread meanwhile, also while the handler
// blocks. No sockets, no threads of its own.
#pragma once

#include <cstdint>
#include <deque>
#include <filesystem>
#include <mutex>

#include "bus/consumer_mark.h"
#include "bus/status.h"
#include "hub/sdk.h"

namespace hub::sdk {

class DurableSubscription {
 public:
  // Reads the mark in `mark_file` (DurableOptions::save_every applies to it).
  DurableSubscription(std::filesystem::path mark_file, const DurableOptions& options);

  bool explicit_ack() const { return explicit_ack_; }
  bool found() const { return mark_.found(); }  // a mark was saved before
  uint64_t mark() const { return mark_.acked(); }
  uint64_t saved() const { return mark_.saved(); }
  // Starts anew after `seq` (a first start, or a journal replaced), saved at once.
  Status start_after(uint64_t seq);

  // The subscription's thread.
  // False for an event it handed out already (the journal and the live bus overlap).
  bool is_new(uint64_t seq) const;
  void handing(uint64_t seq);  // before the handler is called
  // After the handler returned, or threw. Without explicit_ack the event is handled; with
  // it, one that threw counts as acknowledged once every event before it is. False when a
  // save was due and failed.
  bool handled(uint64_t seq, bool threw);
  // Events first..last are lost (and on_lost was told): they count as handled, once every
  // event handed before them is. False when a save was due and failed.
  bool lost(uint64_t first, uint64_t last);
  // Nothing more to hand out for now, every event up to `delivered_through` accounted for:
  // once every handed event is handled the mark covers them all (those that did not
  // match, too). Saves. False when the mark could not be saved.
  bool idle(uint64_t delivered_through);
  bool finish() { return mark_.save(); }  // the end: saves

  // Any thread, with explicit_ack: every handed event up to `seq` is handled (clipped to
  // the last one handed out). Saved when due. Returns the mark on disk; an error when it
  // could not be saved.
  Result<uint64_t> acknowledge(uint64_t seq);

 private:
  // A handed event not acknowledged yet, or a run of lost ones (`settled`: it counts as
  // acknowledged once every event before it is).
  struct Pending {
    uint64_t seq;
    uint64_t events;  // 1 for a handed event, 0 for lost ones (save_every counts handed)
    bool settled;
  };
  // Moves the mark to `to` (or on past the settled entries that follow it). True when a
  // save is due.
  bool acknowledge_locked(uint64_t to);

  const bool explicit_ack_;
  ConsumerMark mark_;
  mutable std::mutex mu_;       // the fields below, and every move of mark_
  uint64_t handed_ = 0;         // the newest seq handed out (or lost, or idle-covered)
  std::deque<Pending> window_;  // with explicit_ack: handed out, in order, not acknowledged
};

}  // namespace hub::sdk
