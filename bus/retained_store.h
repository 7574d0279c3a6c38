// The last retained event of each topic, for subscribers that join later (like MQTT's
// retained messages). Bounded by a topic count. One thread only.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <zmq.hpp>

#include "bus/topic_filter.h"

namespace hub {

class RetainedStore {
 public:
  explicit RetainedStore(size_t max_topics) : max_topics_(max_topics) {}

  // Keeps the event as its topic's last value; shares the payload buffer. Returns false
  // (and keeps nothing) when the topic is new and the store is full, except for the
  // hub's own Hub/... topics, which are always kept (they are few and fixed).
  bool keep(const zmq::message_t& topic, zmq::message_t& header, zmq::message_t& payload,
            uint64_t seq);

  // Appends [topic][header][payload] of every retained event `filter` matches, in
  // sequence order, to `out`.
  // (Not const: ZeroMQ marks a buffer shared when it is copied.)
  void append_matching(const TopicFilter& filter, std::vector<zmq::message_t>& out);

  size_t size() const { return events_.size(); }

 private:
  struct Entry {
    uint64_t seq = 0;
    zmq::message_t header;
    zmq::message_t payload;
  };
  size_t max_topics_;
  std::map<std::string, Entry, std::less<>> events_;
};

}  // namespace hub
