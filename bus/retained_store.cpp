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

void RetainedStore::erase(std::string_view key) {
  auto it = events_.find(key);
  if (it == events_.end()) return;
  release(it->second);
  events_.erase(it);
}

std::optional<std::string> RetainedStore::keep(const zmq::message_t& topic, zmq::message_t& header,
                                               zmq::message_t& payload, uint64_t seq,
                                               std::string_view source) {
  const std::string_view name = topic.to_string_view();
  const uint64_t bytes = topic.size() + header.size() + payload.size();
  std::string owner = owner_of(source);
  if (owner.empty()) {
    if (auto fact = lifecycle_fact(name, payload.to_string_view())) {
      keep_fact(*fact, header, payload, seq, bytes);
      return std::nullopt;
    }
  } else if (is_lifecycle_topic(name)) {
    return std::string(name) + " is lifecycle state only the Hub retains";
  } else if (name.substr(0, name.find('/')) == kHubIdentity) {
    return std::string(name) + " is the Hub's: only the Hub retains its events";
  }
  auto it = events_.find(name);
  if (it != events_.end() && it->second.owner.empty() && !owner.empty()) {
    return std::string(name) + " holds the Hub's retained event, which only the Hub replaces";
  }
  if (payload.size() == 0) {  // clears the topic
    if (it != events_.end()) erase(name);
    return std::nullopt;
  }
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

std::map<std::string, std::set<std::string>> RetainedStore::lifecycle_events() const {
  std::map<std::string, std::set<std::string>> held;
  for (const auto& [key, entry] : events_) {
    const std::string_view topic = topic_of_key(key);
    if (!entry.owner.empty() || !is_lifecycle_topic(topic)) continue;
    const size_t slash = topic.find('/');
    held[std::string(topic.substr(0, slash))].insert(std::string(topic.substr(slash + 1)));
  }
  return held;
}

void RetainedStore::note_transient(std::string_view topic, std::string_view payload) {
  if (!is_lifecycle_topic(topic)) return;
  if (auto fact = lifecycle_fact(topic, payload)) drop_stale(*fact);
}

void RetainedStore::keep_fact(const LifecycleFact& fact, zmq::message_t& header,
                              zmq::message_t& payload, uint64_t seq, uint64_t bytes) {
  drop_stale(fact);
  Entry& entry = events_[lifecycle_key(fact.module, fact.event, fact.instance)];
  entry.seq = seq;
  entry.bytes = bytes;
  entry.owner.clear();  // the Hub's: a lifecycle key holds nothing else
  entry.header.copy(header);
  entry.payload.copy(payload);
  track_ended(fact);
}

void RetainedStore::drop_stale(const LifecycleFact& fact) {
  if (fact.event == "removed") {  // the module is gone: every instance's state goes
    const std::string prefix = fact.module + "/";
    for (auto it = events_.lower_bound(prefix);
         it != events_.end() && it->first.compare(0, prefix.size(), prefix) == 0;) {
      const bool lifecycle =
          it->second.owner.empty() && is_lifecycle_topic(topic_of_key(it->first));
      if (!lifecycle) {
        ++it;
        continue;
      }
      release(it->second);
      it = events_.erase(it);
    }
    ended_.erase(fact.module);
    return;
  }
  for (std::string_view stale : fact.supersedes) {
    erase(lifecycle_key(fact.module, stale, fact.instance));
  }
}

// Remembers the dynamic instances that ended, and forgets the state of the oldest ones
// past kMaxEndedInstancesPerModule.
void RetainedStore::track_ended(const LifecycleFact& fact) {
  if (!is_dynamic_instance(fact.module, fact.instance)) return;
  const bool ended = fact.event == "stopped" || fact.event == "failed";
  auto found = ended_.find(fact.module);
  if (found == ended_.end()) {
    if (!ended) return;
    found = ended_.emplace(fact.module, std::deque<std::string>{}).first;
  }
  std::deque<std::string>& instances = found->second;
  const auto at = std::find(instances.begin(), instances.end(), fact.instance);
  if (at != instances.end()) instances.erase(at);
  if (ended) instances.push_back(fact.instance);
  while (instances.size() > kMaxEndedInstancesPerModule) {
    for (std::string_view event : {"started", "ready", "failed", "stopped"}) {
      erase(lifecycle_key(fact.module, event, instances.front()));
    }
    instances.pop_front();
  }
  if (instances.empty()) ended_.erase(found);
}

void RetainedStore::forget_processes() {
  for (auto it = events_.begin(); it != events_.end();) {
    const std::string_view topic = topic_of_key(it->first);
    const std::string_view event = topic.substr(topic.find('/') + 1);
    const bool process =
        topic.size() != it->first.size() && (event == "started" || event == "ready");
    it = process ? events_.erase(it) : std::next(it);
  }
}

void RetainedStore::append_matching(const TopicFilter& filter, std::vector<zmq::message_t>& out) {
  std::vector<std::pair<uint64_t, std::pair<const std::string, Entry>*>> hits;
  for (auto& entry : events_) {
    if (filter.matches(topic_of_key(entry.first))) hits.emplace_back(entry.second.seq, &entry);
  }
  std::sort(hits.begin(), hits.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& [seq, entry] : hits) {
    const std::string_view topic = topic_of_key(entry->first);
    out.emplace_back(topic.data(), topic.size());
    out.emplace_back().copy(entry->second.header);
    out.emplace_back().copy(entry->second.payload);
  }
}

}  // namespace hub
