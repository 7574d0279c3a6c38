#include "bus/retained_store.h"

#include <algorithm>

#include "bus/credentials.h"
#include "bus/wire.h"

namespace hub {

bool RetainedStore::keep(const zmq::message_t& topic, zmq::message_t& header,
                         zmq::message_t& payload, uint64_t seq) {
  const std::string_view name = topic.to_string_view();
  auto it = events_.find(name);
  if (it == events_.end()) {
    if (events_.size() >= max_topics_ && wire::topic_module(name) != kHubIdentity) return false;
    it = events_.emplace(std::string(name), Entry{}).first;
  }
  it->second.seq = seq;
  it->second.header.copy(header);
  it->second.payload.copy(payload);
  return true;
}

void RetainedStore::append_matching(const TopicFilter& filter, std::vector<zmq::message_t>& out) {
  std::vector<std::pair<uint64_t, std::pair<const std::string, Entry>*>> hits;
  for (auto& entry : events_) {
    if (filter.matches(entry.first)) hits.emplace_back(entry.second.seq, &entry);
  }
  std::sort(hits.begin(), hits.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& [seq, entry] : hits) {
    out.emplace_back(entry->first.data(), entry->first.size());
    out.emplace_back().copy(entry->second.header);
    out.emplace_back().copy(entry->second.payload);
  }
}

}  // namespace hub
