#include "console/live_feed.h"

#include <algorithm>
#include <chrono>

namespace hub::console {

std::shared_ptr<LiveClient> LiveFeed::join(TopicFilter filter, uint32_t rate,
                                           uint32_t queue_limit) {
  std::lock_guard lock(mu_);
  if (clients_.size() >= kMaxClients) return nullptr;
  clients_.push_back(std::make_shared<LiveClient>(std::move(filter), rate, queue_limit));
  return clients_.back();
}

void LiveFeed::leave(const std::shared_ptr<LiveClient>& client) {
  client->close();
  std::lock_guard lock(mu_);
  clients_.erase(std::remove(clients_.begin(), clients_.end(), client), clients_.end());
}

void LiveFeed::close_all() {
  std::lock_guard lock(mu_);
  for (const auto& c : clients_) c->close();
}

size_t LiveFeed::clients() const {
  std::lock_guard lock(mu_);
  return clients_.size();
}

void LiveFeed::count(const EventView& e) {
  rates_.count(topic_module(e.topic), e.time_ns / 1000000000);
  if (ServiceTimeline::is_lifecycle(e.topic, e.source))
    timeline_.record(e.topic, e.payload, e.time_ns);
}

void LiveFeed::on_past_event(const EventView& e) { count(e); }

void LiveFeed::on_event(const EventView& e) {
  seen_.fetch_add(1, std::memory_order_relaxed);
  count(e);  // live, all of them (a retained publish is live too: its flag says kept)
  std::lock_guard lock(mu_);
  if (clients_.empty()) return;
  const auto now = std::chrono::steady_clock::now();
  LiveEvent event;  // formatted once, for the first view that wants it
  for (const auto& c : clients_) {
    if (!c->wants(e.topic)) continue;
    if (!event.json) {
      event.seq = e.seq;
      event.json = std::make_shared<const std::string>(event_json(e, /*history=*/false));
    }
    c->offer(event, now);
  }
}

}  // namespace hub::console
