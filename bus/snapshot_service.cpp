#include "bus/snapshot_service.h"

#include <algorithm>

#include "bus/router_replies.h"
#include "bus/wire.h"

namespace hub {
namespace {

// How long a snapshot request waits for its sync subscription to show up on the XPUB.
constexpr auto kSyncWait = std::chrono::seconds(5);
constexpr size_t kMaxSyncTokens = 4096;

}  // namespace

SnapshotService::SnapshotService(zmq::socket_t& router, RetainedStore& retained,
                                 uint64_t queue_bound, std::atomic<uint64_t>& answered)
    : router_(router), retained_(retained), queue_bound_(queue_bound), answered_(answered) {}

void SnapshotService::request(zmq::message_t routing_id, const std::vector<std::string>& frames,
                              uint64_t last_seq) {
  auto filter = TopicFilter::parse({frames.begin() + 2, frames.end()});
  if (!filter) return reply_error(router_, routing_id, filter.error());
  const std::string& token = frames[1];
  if (sync_seen_.erase(token) != 0) {
    sync_order_.erase(std::find(sync_order_.begin(), sync_order_.end(), token));
    answer(routing_id, *filter, last_seq);
  } else {
    pending_.push_back(
        {std::move(routing_id), token, std::move(*filter), Clock::now() + kSyncWait});
  }
}

void SnapshotService::sync_arrived(const std::string& token, uint64_t last_seq) {
  auto waiting = std::find_if(pending_.begin(), pending_.end(),
                              [&](const Pending& p) { return p.token == token; });
  if (waiting != pending_.end()) {
    answer(waiting->routing_id, waiting->filter, last_seq);
    pending_.erase(waiting);
  } else {
    remember_sync_token(token);
  }
}

void SnapshotService::expire() {
  const auto now = Clock::now();
  while (!pending_.empty() && pending_.front().deadline <= now) {
    reply_error(router_, pending_.front().routing_id,
                "the sync subscription did not arrive on the events socket in time");
    pending_.pop_front();
  }
}

std::optional<SnapshotService::Clock::time_point> SnapshotService::next_deadline() const {
  if (pending_.empty()) return std::nullopt;
  return pending_.front().deadline;
}

// [ok][last_seq, subscriber queue bound] then [topic][header][payload] per retained
// event, in sequence order.
void SnapshotService::answer(zmq::message_t& routing_id, const TopicFilter& filter,
                             uint64_t last_seq) {
  std::vector<zmq::message_t> reply;
  reply.emplace_back(wire::kReplyOk.data(), wire::kReplyOk.size());
  char joined[16];
  wire::put_u64(joined, last_seq);
  wire::put_u64(joined + 8, queue_bound_);
  reply.emplace_back(joined, sizeof joined);
  retained_.append_matching(filter, reply);
  ++answered_;
  send_reply(router_, routing_id, reply);
}

void SnapshotService::remember_sync_token(const std::string& token) {
  if (sync_order_.size() >= kMaxSyncTokens) {
    sync_seen_.erase(sync_order_.front());
    sync_order_.pop_front();
  }
  if (sync_seen_.insert(token).second) sync_order_.push_back(token);
}

}  // namespace hub
