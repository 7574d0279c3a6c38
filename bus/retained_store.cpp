#include "bus/retained_store.h"

#include <algorithm>

#include "bus/credentials.h"
#include "bus/topic_owner.h"

namespace hub {
namespace {

// The owner charged for what `source` retains: its module, else the identity itself
// (the administrator); empty for the Hub.
std::string owner_of(std::string_view source) {
  if (source == kHubIdentity) return {};
  const std::string_view module = identity_module(source);
  return std::string(module.empty() ? source : module);
}

}  // namespace

std::optional<std::string> RetainedStore::refusal(const std::string& owner, const Usage& held,
                                                  const Entry* old, uint64_t bytes) const {
  // What the owner and the store hold once `old` (if any) is replaced by this event.
  const bool mine = old != nullptr && old->owner == owner;
  const bool other_owner = old != nullptr && !old->owner.empty() && !mine;
  const size_t owner_topics = held.topics + (mine ? 0 : 1);
  const uint64_t owner_bytes = held.bytes - (mine ? old->bytes : 0) + bytes;
  const size_t topics = total_.topics + (mine || other_owner ? 0 : 1);
  const uint64_t total_bytes = total_.bytes - (mine || other_owner ? old->bytes : 0) + bytes;
  const auto limit = [&](const char* what, uint64_t n, const char* key) {
    return owner + " would hold " + std::to_string(n) + " retained " + what + ", above " + key;
  };
  if (owner_topics > limits_.max_topics_per_owner)
    return limit("topics", owner_topics, "bus.max_retained_per_module");
  if (owner_bytes > limits_.max_bytes_per_owner)
    return limit("bytes", owner_bytes, "bus.max_retained_bytes_per_module");
  if (topics > limits_.max_topics) {
    return "the retained store holds " + std::to_string(total_.topics) +
           " topics, its limit (bus.max_retained)";
  }
  if (total_bytes > limits_.max_bytes) {
    return "the retained store would hold " + std::to_string(total_bytes) +
           " bytes, above bus.max_retained_bytes";
  }
  return std::nullopt;
}

void RetainedStore::release(const Entry& entry) {
  if (entry.owner.empty()) return;
  total_.topics -= 1;
  total_.bytes -= entry.bytes;
  auto it = owners_.find(entry.owner);
  it->second.topics -= 1;
  it->second.bytes -= entry.bytes;
  if (it->second.topics == 0) owners_.erase(it);
}

std::optional<std::string> RetainedStore::keep(const zmq::message_t& topic, zmq::message_t& header,
                                               zmq::message_t& payload, uint64_t seq,
                                               std::string_view source) {
  const std::string_view name = topic.to_string_view();
  const uint64_t bytes = topic.size() + header.size() + payload.size();
  std::string owner = owner_of(source);
  auto it = events_.find(name);
  if (!owner.empty()) {
    const auto held = owners_.find(owner);
    const Entry* old = it == events_.end() ? nullptr : &it->second;
    if (auto why = refusal(owner, held == owners_.end() ? Usage{} : held->second, old, bytes)) {
      if (old != nullptr && !old->owner.empty()) {  // never leave an older value behind
        release(*old);
        events_.erase(it);
      }
      return why;
    }
  }
  if (it == events_.end()) {
    it = events_.emplace(std::string(name), Entry{}).first;
  } else {
    release(it->second);
  }
  Entry& entry = it->second;
  entry.seq = seq;
  entry.bytes = bytes;
  entry.owner = std::move(owner);
  entry.header.copy(header);
  entry.payload.copy(payload);
  if (!entry.owner.empty()) {
    Usage& usage = owners_[entry.owner];
    usage.topics += 1;
    usage.bytes += bytes;
    total_.topics += 1;
    total_.bytes += bytes;
  }
  return std::nullopt;
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
