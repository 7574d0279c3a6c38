#include "bridge/outbound_window.h"

#include <algorithm>

namespace hub::bridge {

void OutboundWindow::add(OutboundMessage message) {
  entries_.push_back(Entry{std::move(message), State::kPending, -1});
  ++pending_;
}

void OutboundWindow::add_done(uint64_t seq) {
  OutboundMessage none;
  none.seq = seq;
  entries_.push_back(Entry{std::move(none), State::kAcked, -1});
  advance_acked();
}

bool OutboundWindow::send_entry(size_t index,
                                const std::function<int(const OutboundMessage&)>& send) {
  Entry& e = entries_[index];
  const int mid = send(e.message);
  if (mid == kRefused) {
    e.state = State::kAcked;
    --pending_;
    advance_acked();
    return true;
  }
  if (mid < 0) return false;
  e.state = State::kSent;
  e.mid = mid;
  sent_[mid] = first_id_ + index;
  --pending_;
  ++in_flight_;
  return true;
}

void OutboundWindow::send_pending(const std::function<int(const OutboundMessage&)>& send) {
  size_t i = std::max<size_t>(acked_prefix_, first_pending_ - first_id_);
  for (; i < entries_.size() && pending_ > 0; ++i) {
    if (entries_[i].state == State::kPending && !send_entry(i, send)) break;
  }
  first_pending_ = first_id_ + i;
}

bool OutboundWindow::acknowledged(int mid) {
  auto it = sent_.find(mid);
  if (it == sent_.end()) return false;
  Entry& e = entries_[it->second - first_id_];
  sent_.erase(it);
  e.state = State::kAcked;
  --in_flight_;
  advance_acked();
  return true;
}

void OutboundWindow::connection_lost() {
  for (size_t i = acked_prefix_; i < entries_.size(); ++i) {
    Entry& e = entries_[i];
    if (e.state != State::kSent) continue;
    e.state = State::kPending;
    e.mid = -1;
    ++pending_;
  }
  first_pending_ = first_id_ + acked_prefix_;
  sent_.clear();
  in_flight_ = 0;
}

void OutboundWindow::advance_acked() {
  while (acked_prefix_ < entries_.size() && entries_[acked_prefix_].state == State::kAcked)
    ++acked_prefix_;
  if (acked_prefix_ == 0) return;
  const uint64_t last = entries_[acked_prefix_ - 1].message.seq;
  // An event with a message still out is not acknowledged as a whole.
  const bool event_split =
      acked_prefix_ < entries_.size() && entries_[acked_prefix_].message.seq == last;
  const uint64_t through = event_split ? last - 1 : last;
  if (through > acked_through_) acked_through_ = through;
}

void OutboundWindow::saved_through(uint64_t seq) {
  while (acked_prefix_ > 0 && entries_.front().message.seq <= seq) {
    entries_.pop_front();
    ++first_id_;
    --acked_prefix_;
  }
  first_pending_ = std::max(first_pending_, first_id_);
}

}  // namespace hub::bridge
