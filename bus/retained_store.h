// The last retained event of each topic, for subscribers that join later (like MQTT's
// retained messages). One thread only.
//
// Bounded in topics and bytes, in all and per owner, so that no publisher can crowd out
// the others or grow the hub without bound. The owner of an entry is the module its
// publisher acts for (Foo for Foo, Foo.X and Foo@scripts; topic_owner.h), or the
// administrator. The Hub's own retained events (every module's lifecycle state, Hub/...)
// are reserved: always kept, never counted against the limits, never pushed out.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <zmq.hpp>

#include "bus/lifecycle_state.h"
#include "bus/topic_filter.h"

namespace hub {

struct RetainedLimits {
  size_t max_topics = 10000;                  // topics kept for all owners together
  uint64_t max_bytes = 64ull << 20;           // their bytes (topic, header, payload) together
  size_t max_topics_per_owner = 1000;         // topics one module (or the administrator) holds
  uint64_t max_bytes_per_owner = 8ull << 20;  // and their bytes
};

class RetainedStore {
 public:
  explicit RetainedStore(RetainedLimits limits) : limits_(limits) {}

  // Keeps the event as its topic's last value, published by `source` (its authenticated
  // identity); shares the payload buffer. An empty payload clears the topic instead. A
  // lifecycle event of the Hub is kept per instance, and drops its instance's stale
  // state. Returns nullopt when kept (or cleared), else why not: keeping it would take its
  // owner or the store past a limit, or the topic is the Hub's. A refused event replaces
  // nothing, and the topic's older retained event is dropped with it (unless the Hub's),
  // so a subscriber that joins later never gets a value older than the last one published.
  std::optional<std::string> keep(const zmq::message_t& topic, zmq::message_t& header,
                                  zmq::message_t& payload, uint64_t seq, std::string_view source);
  // An event of the Hub's not retained itself: a lifecycle event among them (NAME/exited)
  // drops the state it makes stale. Other events leave the store alone.
  void note_transient(std::string_view topic, std::string_view payload);

  // Drops the Hub's started and ready state of every instance: said by an earlier hubd
  // (rebuilt from the journal), whose processes this one does not run. An earlier hubd
  // that stopped cleanly said stopped; one that crashed could not.
  void forget_processes();

  // Appends [topic][header][payload] of every retained event `filter` matches, in
  // sequence order, to `out`.
  // (Not const: ZeroMQ marks a buffer shared when it is copied.)
  void append_matching(const TopicFilter& filter, std::vector<zmq::message_t>& out);

  size_t size() const { return events_.size(); }
  // The Hub's lifecycle state held now: module -> the EVENTs retained for it (any instance).
  std::map<std::string, std::set<std::string>> lifecycle_events() const;
  // Dynamic instances (NAME.X) that stopped or failed whose state is kept, per module; the
  // oldest one's state goes past this, so that short-lived instances cannot grow the
  // Hub's reserved state without bound. Those that run are always kept.
  static constexpr size_t kMaxEndedInstancesPerModule = 100;
  // Bytes held for owners (the Hub's reserved events are not counted).
  uint64_t bytes() const { return total_.bytes; }

 private:
  struct Usage {
    size_t topics = 0;
    uint64_t bytes = 0;
  };
  struct Entry {
    uint64_t seq = 0;
    std::string owner;  // empty: the Hub's, reserved
    uint64_t bytes = 0;
    zmq::message_t header;
    zmq::message_t payload;
  };
  std::optional<std::string> refusal(const std::string& owner, const Usage& held, const Entry* old,
                                     uint64_t bytes) const;
  void release(const Entry& entry);
  void erase(std::string_view key);
  void keep_fact(const LifecycleFact& fact, zmq::message_t& header, zmq::message_t& payload,
                 uint64_t seq, uint64_t bytes);
  void drop_stale(const LifecycleFact& fact);
  void track_ended(const LifecycleFact& fact);

  RetainedLimits limits_;
  // By topic; the Hub's lifecycle events by lifecycle_key().
  std::map<std::string, Entry, std::less<>> events_;
  Usage total_;                                    // of all owners together
  std::unordered_map<std::string, Usage> owners_;  // those holding at least one topic
  // Per module, its dynamic instances that ended (stopped, failed), oldest first.
  std::unordered_map<std::string, std::deque<std::string>> ended_;
};

}  // namespace hub
