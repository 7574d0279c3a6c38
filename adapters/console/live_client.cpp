#include "console/live_client.h"

#include <algorithm>

namespace hub::console {

LiveClient::LiveClient(TopicFilter filter, uint32_t rate, uint32_t queue_limit)
    : filter_(std::move(filter)),
      rate_(rate),
      queue_limit_(queue_limit),
      tokens_(rate),
      refilled_(std::chrono::steady_clock::now()) {}

void LiveClient::offer(const LiveEvent& event, std::chrono::steady_clock::time_point now) {
  {
    std::lock_guard lock(mu_);
    if (closed_) return;
    const double elapsed = std::chrono::duration<double>(now - refilled_).count();
    if (elapsed > 0) {
      tokens_ = std::min(rate_, tokens_ + elapsed * rate_);
      refilled_ = now;
    }
    if (tokens_ < 1) {
      ++sampled_;
      return;
    }
    if (queue_.size() >= queue_limit_) {
      ++dropped_;
      return;
    }
    tokens_ -= 1;
    queue_.push_back(event);
  }
  ready_.notify_one();
}

LiveBatch LiveClient::take(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  ready_.wait_for(lock, timeout, [&] { return closed_ || !queue_.empty(); });
  LiveBatch batch;
  batch.events.assign(std::make_move_iterator(queue_.begin()),
                      std::make_move_iterator(queue_.end()));
  queue_.clear();
  batch.sampled = std::exchange(sampled_, 0);
  batch.dropped = std::exchange(dropped_, 0);
  batch.closed = closed_;
  return batch;
}

void LiveClient::close() {
  {
    std::lock_guard lock(mu_);
    closed_ = true;
  }
  ready_.notify_all();
}

}  // namespace hub::console
