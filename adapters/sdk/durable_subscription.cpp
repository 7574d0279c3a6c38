#include "durable_subscription.h"

#include <algorithm>

namespace hub::sdk {

DurableSubscription::DurableSubscription(std::filesystem::path mark_file,
                                         const DurableOptions& options)
    : explicit_ack_(options.explicit_ack),
      mark_(std::move(mark_file), options.explicit_ack ? options.save_every : 0) {
  handed_ = mark_.acked();
}

Status DurableSubscription::start_after(uint64_t seq) {
  {
    std::lock_guard lock(mu_);
    handed_ = seq;
    window_.clear();
    (void)mark_.advance(seq, 0);
  }
  return mark_.save() ? Status::ok() : Status::error("cannot save its mark");
}

bool DurableSubscription::is_new(uint64_t seq) const {
  std::lock_guard lock(mu_);
  return seq > handed_;
}

void DurableSubscription::handing(uint64_t seq) {
  std::lock_guard lock(mu_);
  handed_ = seq;
  if (explicit_ack_) window_.push_back({seq, 1, false});
}

bool DurableSubscription::handled(uint64_t seq, bool threw) {
  bool due = false;
  {
    std::lock_guard lock(mu_);
    if (!explicit_ack_) {
      due = mark_.advance(seq);
    } else if (threw) {
      // Still in the window unless acknowledged meanwhile (then nothing is left to do).
      for (Pending& p : window_) {
        if (p.seq == seq) p.settled = true;
      }
      due = acknowledge_locked(mark_.acked());
    }
  }
  return !due || mark_.save();
}

bool DurableSubscription::lost(uint64_t first, uint64_t last) {
  (void)first;
  bool due = false;
  {
    std::lock_guard lock(mu_);
    if (last <= handed_) return true;
    handed_ = last;
    if (!explicit_ack_) {
      due = mark_.advance(last, 0);  // every event handed before was handled
    } else {
      window_.push_back({last, 0, true});
      due = acknowledge_locked(mark_.acked());
    }
  }
  return !due || mark_.save();
}

bool DurableSubscription::idle(uint64_t delivered_through) {
  {
    std::lock_guard lock(mu_);
    if (window_.empty() && delivered_through > mark_.acked()) {
      handed_ = std::max(handed_, delivered_through);
      (void)mark_.advance(delivered_through, 0);
    }
  }
  return mark_.save();
}

Result<uint64_t> DurableSubscription::acknowledge(uint64_t seq) {
  bool due = false;
  {
    std::lock_guard lock(mu_);
    due = acknowledge_locked(std::min(seq, handed_));
  }
  if (due && !mark_.save()) return Status::error("cannot save its mark");
  return mark_.saved();
}

bool DurableSubscription::acknowledge_locked(uint64_t to) {
  const uint64_t acked = mark_.acked();
  uint64_t events = 0;
  while (!window_.empty() && (window_.front().seq <= to || window_.front().settled)) {
    to = std::max(to, window_.front().seq);
    events += window_.front().events;
    window_.pop_front();
  }
  if (to <= acked) return mark_.save_due();  // nothing new; an older one may be due
  return mark_.advance(to, events);
}

}  // namespace hub::sdk
