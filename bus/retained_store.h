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
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <zmq.hpp>

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
  // identity); shares the payload buffer. Returns nullopt when kept, else why not: keeping
  // it would take its owner or the store past a limit. A refused event replaces nothing,
  // and the topic's older retained event is dropped with it (unless the Hub's), so a
  // subscriber that joins later never gets a value older than the last one published.
  std::optional<std::string> keep(const zmq::message_t& topic, zmq::message_t& header,
                                  zmq::message_t& payload, uint64_t seq, std::string_view source);

  // Appends [topic][header][payload] of every retained event `filter` matches, in
  // sequence order, to `out`.
  // (Not const: ZeroMQ marks a buffer shared when it is copied.)
  void append_matching(const TopicFilter& filter, std::vector<zmq::message_t>& out);

  size_t size() const { return events_.size(); }
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

  RetainedLimits limits_;
  std::map<std::string, Entry, std::less<>> events_;
  Usage total_;                                    // of all owners together
  std::unordered_map<std::string, Usage> owners_;  // those holding at least one topic
};

}  // namespace hub
